"""Amazon S3 adapters. boto3 is imported by the modules here, never at package import."""
