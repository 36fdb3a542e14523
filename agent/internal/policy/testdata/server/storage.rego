# A server package below a package no server file defines (data.storage).
package storage.s3

deny_public_acl contains sprintf("%s: a public ACL", [rc.address]) if {
	some rc in input.resource_changes
	rc.type == "aws_s3_bucket_acl"
	rc.change.after.acl in acls_refused
}

acls_refused := {"public-read", "public-read-write"}
