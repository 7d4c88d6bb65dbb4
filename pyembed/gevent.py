# The Python side of the gevent worker class (hub.c has the rest). Runs once, in the worker's
# main thread, before the hooks module and the app are imported.
import sys
import traceback


def _patch():
    """Patch the standard library so that sleeps, sockets and locks yield to other greenlets,
    as gunicorn's gevent worker does before it loads the app. False when gevent is missing."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    monkey.patch_all()
    return True


def _serve(fd, drain, attach):
    """Serve requests on gevent's hub until the stop event is set. The hub wakes drain whenever
    Go writes to the eventfd fd."""
    import gevent
    import greenlet
    from gevent.event import Event

    hub = gevent.get_hub()
    stopped = Event()
    attach(hub, greenlet.getcurrent, greenlet.greenlet, stopped.set)
    watcher = hub.loop.io(fd, 1)
    watcher.start(drain)
    try:
        stopped.wait()
    finally:
        watcher.stop()


def _greenlet_stack(g, thread_id):
    """(running, stack) of a request's greenlet, for the timeout's log entry: a greenlet that
    runs now has no saved frame, and its stack is its thread's."""
    frame = g.gr_frame
    if frame is not None:
        return False, "".join(traceback.format_stack(frame))
    if not g:
        return False, "(the greenlet has ended)\n"
    frame = sys._current_frames().get(thread_id)
    if frame is None:
        return True, "(the greenlet is not running Python code)\n"
    return True, "".join(traceback.format_stack(frame))
