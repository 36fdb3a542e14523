# A server policy: a prod change needs an approval from someone other than its author. The denial
# depends on a helper rule and on data.gitops, both things a repository must not be able to change.
package main

import data.lib.org

deny_unreviewed contains msg if {
	data.gitops.stage == "prod"
	not reviewed
	msg := "a prod change needs an approval from someone other than its author"
}

reviewed if org.approved(data.gitops.mr)
