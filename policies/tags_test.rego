package main_test

import data.lib.fixtures as f
import data.main

test_missing_tags_passes_with_default_tags if {
	r := f.rc("aws_sns_topic", "alarms", {"tags": null, "tags_all": f.tags})
	count(main.deny_missing_tags) == 0 with input as f.plan([r])
}

test_missing_tags_falls_back_to_tags if {
	r := f.rc("aws_sns_topic", "alarms", {"tags": f.tags})
	count(main.deny_missing_tags) == 0 with input as f.plan([r])
}

test_missing_tags_ignores_untaggable_types if {
	r := f.rc("aws_s3_bucket_versioning", "docs", {"bucket": "docs"})
	count(main.deny_missing_tags) == 0 with input as f.plan([r])
}

test_missing_tags_denied if {
	r := f.rc("aws_sns_topic", "alarms", {"tags_all": {"Project": "documents", "Stage": "dev"}})
	f.ids(main.deny_missing_tags) == {"TAGS_001"} with input as f.plan([r])
	some finding in main.deny_missing_tags with input as f.plan([r])
	contains(finding.msg, `["ManagedBy", "Stack"]`)
}
