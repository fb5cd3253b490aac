"""OPC UA source (asyncua): subscriptions on a server's variables, spread over several connections.

`source.build(cfg, name)` is the registry's entry point; `connection` owns one client and its
subscription (watchdog, backoff, resubscription); `convert` turns data values into samples.
"""
