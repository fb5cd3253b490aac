"""Pydantic request and response schemas, in Create / Update / Public families per resource."""
