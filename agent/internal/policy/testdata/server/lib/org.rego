package lib.org

approved(mr) if {
	some user in mr.approved_by
	user != mr.author
}
