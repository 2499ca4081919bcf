# asg-agent: the AWS side (IMDSv2, SigV4, CloudWatch, lifecycle hooks).
