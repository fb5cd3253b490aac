"""One module per screen: ``layout(ctx, session, lang, args, query)`` builds it, ``register(ctx)``
adds its callbacks to the app, ``MINIMUM_ACTION`` names what a role must be allowed to see it."""
