# Tests of asg-agent and the AWS/IMDS stand-ins.
