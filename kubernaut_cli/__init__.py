"""The `kubernaut` command: register releases and deploy them from CI, over Kubernaut's API.

It imports nothing from Django (and nothing outside the standard library), so a CI agent can
install it without the server's dependencies.
"""
