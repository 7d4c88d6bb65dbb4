"""An app that logs through Python's logging module, for --log-config, --log-config-json,
logconfig_dict and --spew: the logger "app" says when the module is imported and each request."""
import logging

log = logging.getLogger("app")
log.info("app module imported")


def app(environ, start_response):
    log.info("request to %s", environ["PATH_INFO"])
    start_response("200 OK", [("Content-Type", "text/plain")])  # spew marker
    return [b"logged"]
