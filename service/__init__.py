"""Linewatch service: ingest, storage, evaluation, limits, alarms and the HTTP API.

Importing this package is cheap (no FastAPI, no database driver): the CLI imports
`service.cli` at start-up and must stay fast. Build the app with
`service.app.create_app(settings)`.
"""
