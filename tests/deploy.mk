# Tests of user data and scripts/provision (owned by the deployment work).
