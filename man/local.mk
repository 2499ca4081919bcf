# Man pages: asg-health(8), asg-agent(8) and asg-agent.json(5), the
# configuration reference of both daemons.
dist_man_MANS = man/asg-health.8 man/asg-agent.8 man/asg-agent.json.5
