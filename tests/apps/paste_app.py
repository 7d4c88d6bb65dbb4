"""A PasteDeploy app factory for --paste: the app answers with the global_conf and the local
settings of its ini section, as JSON, and logs each request to the logger "pasted"."""
import json
import logging


def factory(global_conf, **local_conf):
    body = json.dumps({"global": global_conf, "local": local_conf}).encode()

    def app(environ, start_response):
        logging.getLogger("pasted").info("pasted app got %s", environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return app
