# Tests of user data and scripts/provision (owned by the deployment work):
# the user data validated by cloud-init and run twice in a sandbox of
# recording fakes; every AWS call of scripts/provision (create, rerun,
# destroy, dry run) checked against botocore's models with its Stubber, and
# against moto's server on 127.0.0.1 (skipped when no python3 has moto); the
# IAM policy compared with the actions agent/*.c calls.  All offline.
DEPLOY_FILES = \
	scripts/provision \
	scripts/iam-policy.json \
	scripts/user-data.sh \
	scripts/user-data.yaml \
	tests/deploy/stubbed_aws.py \
	tests/deploy/stack_scenarios.py
DEPLOY_TESTS = \
	tests/deploy/test-user-data.py \
	tests/deploy/test-iam-policy.py \
	tests/deploy/test-provision-create.py \
	tests/deploy/test-provision-destroy.py \
	tests/deploy/test-provision-edge.py \
	tests/deploy/test-provision-moto.py
TESTS += $(DEPLOY_TESTS)
EXTRA_DIST += $(DEPLOY_FILES) $(DEPLOY_TESTS)
