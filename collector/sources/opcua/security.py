"""Client security: Basic256Sha256 with the client's certificate, and username/password.

The client's ApplicationUri is taken from its certificate's SubjectAlternativeName URI: servers
(node-opcua among them) refuse a session whose ApplicationUri differs from the certificate's
(OPC UA Part 4, §5.6.2). Without `server_certificate` the server's certificate is taken from its
endpoint list over an unsecured channel, i.e. trusted on first use; pin it for production.
The password comes from the environment variable the config names, never from the file.
"""

from __future__ import annotations

from pathlib import Path

from asyncua import Client, ua
from asyncua.crypto import security_policies, uacrypto
from cryptography import x509

from collector.config import OpcuaSourceConfig, secret_from_env

POLICIES = {"Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256}


class SecurityConfigError(ValueError):
    """A certificate or password the configuration names but that cannot be used."""


async def application_uri_of(certificate: Path) -> str | None:
    cert = await uacrypto.load_certificate(str(certificate))
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


async def apply_security(
    client: Client,
    *,
    policy: str = "None",
    mode: str = "SignAndEncrypt",
    certificate: Path | None = None,
    private_key: Path | None = None,
    server_certificate: Path | None = None,
    username: str | None = None,
    password: str | None = None,
) -> None:
    """Sets up a fresh client's secure channel and user identity (before `connect`)."""
    if username is not None:
        client.set_user(username)
        if password is not None:
            client.set_password(password)
    if policy == "None":
        return
    if policy not in POLICIES:
        raise SecurityConfigError(
            f"unknown security policy {policy!r} (known: None, {', '.join(POLICIES)})"
        )
    if mode not in ("Sign", "SignAndEncrypt"):
        raise SecurityConfigError(f"unknown security mode {mode!r} (known: Sign, SignAndEncrypt)")
    if certificate is None or private_key is None:
        raise SecurityConfigError(f"security policy {policy} needs a certificate and a private key")
    for path in (certificate, private_key, server_certificate):
        if path is not None and not Path(path).is_file():
            raise SecurityConfigError(f"no such file: {path}")
    uri = await application_uri_of(certificate)
    if uri:
        client.application_uri = uri
    await client.set_security(
        POLICIES[policy],
        certificate=str(certificate),
        private_key=str(private_key),
        server_certificate=str(server_certificate) if server_certificate else None,
        mode=getattr(ua.MessageSecurityMode, mode),
    )


async def configure_security(client: Client, cfg: OpcuaSourceConfig) -> None:
    """Applies an `[[opcua]]` section's security policy and user identity to a fresh client."""
    password = None
    if cfg.password_env is not None:
        password = secret_from_env(cfg.password_env)
        if password is None:
            raise SecurityConfigError(f"environment variable {cfg.password_env} is not set")
    await apply_security(
        client,
        policy=cfg.security_policy,
        mode=cfg.security_mode,
        certificate=cfg.certificate,
        private_key=cfg.private_key,
        server_certificate=cfg.server_certificate,
        username=cfg.username,
        password=password,
    )
