package planjson

// statefulTypes are resource types whose deletion or replacement destroys data that cannot be recreated
// from configuration: databases, storage, keys, secrets, DNS zones.
var statefulTypes = map[string]bool{
	// AWS databases and caches
	"aws_db_instance":                   true,
	"aws_db_snapshot":                   true,
	"aws_db_cluster_snapshot":           true,
	"aws_rds_cluster":                   true,
	"aws_rds_cluster_instance":          true,
	"aws_rds_global_cluster":            true,
	"aws_docdb_cluster":                 true,
	"aws_docdb_cluster_instance":        true,
	"aws_neptune_cluster":               true,
	"aws_neptune_cluster_instance":      true,
	"aws_redshift_cluster":              true,
	"aws_redshiftserverless_namespace":  true,
	"aws_dynamodb_table":                true,
	"aws_dynamodb_global_table":         true,
	"aws_elasticache_cluster":           true,
	"aws_elasticache_replication_group": true,
	"aws_elasticache_serverless_cache":  true,
	"aws_memorydb_cluster":              true,
	"aws_opensearch_domain":             true,
	"aws_elasticsearch_domain":          true,
	"aws_timestreamwrite_table":         true,
	"aws_keyspaces_table":               true,
	// AWS storage
	"aws_s3_bucket":               true,
	"aws_efs_file_system":         true,
	"aws_ebs_volume":              true,
	"aws_ebs_snapshot":            true,
	"aws_fsx_lustre_file_system":  true,
	"aws_fsx_windows_file_system": true,
	"aws_fsx_ontap_file_system":   true,
	"aws_backup_vault":            true,
	"aws_glacier_vault":           true,
	"aws_ecr_repository":          true,
	"aws_kinesis_stream":          true,
	"aws_sqs_queue":               true,
	"aws_msk_cluster":             true,
	"aws_cloudwatch_log_group":    true,
	// AWS keys, secrets and names
	"aws_kms_key":                      true,
	"aws_secretsmanager_secret":        true,
	"aws_ssm_parameter":                true,
	"aws_route53_zone":                 true,
	"aws_acmpca_certificate_authority": true,
	"aws_cognito_user_pool":            true,
	// Google Cloud and Azure equivalents most often met
	"google_sql_database_instance":       true,
	"google_storage_bucket":              true,
	"google_kms_crypto_key":              true,
	"google_compute_disk":                true,
	"azurerm_storage_account":            true,
	"azurerm_mssql_database":             true,
	"azurerm_postgresql_flexible_server": true,
	"azurerm_key_vault":                  true,
}

// Stateful reports whether a resource type holds data whose loss a deletion or replacement would cause.
// The list covers the common database, storage, key and secret types; terraform_data and other types that
// can be recreated from configuration are not stateful.
func Stateful(resourceType string) bool { return statefulTypes[resourceType] }
