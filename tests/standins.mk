# Stand-ins for the EC2 instance metadata service and the AWS Query APIs
# (CloudWatch, Auto Scaling, ELBv2), used by the agent's integration tests;
# see tests/standins/README.md.  Their own tests drive them with botocore.
STANDIN_FILES = \
	tests/standins/README.md \
	tests/standins/imds.py \
	tests/standins/aws.py \
	tests/standins/aws_world.py \
	tests/standins/query_protocol.py \
	tests/standins/sigv4_verify.py \
	tests/standins/standin_http.py \
	tests/standins/client.py \
	tests/standins/example-aws-state.json \
	tests/standins/example-imds-state.json
STANDIN_TESTS = \
	tests/standins/test-imds.py \
	tests/standins/test-aws-sigv4.py \
	tests/standins/test-aws-query.py \
	tests/standins/test-aws-autoscaling.py \
	tests/standins/test-aws-elbv2.py \
	tests/standins/test-aws-cloudwatch.py \
	tests/standins/test-aws-faults.py
TESTS += $(STANDIN_TESTS)
EXTRA_DIST += $(STANDIN_FILES) $(STANDIN_TESTS)
