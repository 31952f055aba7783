"""Runs localstripe (a stateful fake Stripe API, GPL, a test tool only) on
127.0.0.1:PORT; its own `localstripe` command binds every interface."""
import sys
from aiohttp import web
from localstripe.server import app
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
