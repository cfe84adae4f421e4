"""Each view Vellum serves, and how it is described. Views are found by their function
(`vellum.api.rest.list_records`), so a route mounted twice (/api and /api/v1) is described
once; a view missing here is missing from the document, which tests/test_openapi.py notices."""

from __future__ import annotations

from collections.abc import Callable

from vellum.api.openapi import access, content
from vellum.api.openapi.common import Schema
from vellum.api.openapi.operations import Ctx

Describe = Callable[[Ctx], Schema]
# Each view, by module and name, and how it is described; model views once per model.
OPERATIONS: dict[str, Describe] = {
    "vellum.api.rest._root": content.root,
    "vellum.api.rest.status": content.status,
    "vellum.api.health.ready": content.health,
    "vellum.api.health.live": content.health_live,
    "vellum.api.rest.models": content.models,
    "vellum.api.rest.search": content.search,
    "vellum.api.rest.list_records": content.list_records,
    "vellum.api.rest.get_one": content.get_record,
    "vellum.api.openapi.openapi_document": content.document,
    "vellum.api.writes.create": content.create_record,
    "vellum.api.writes.replace": content.update_record,
    "vellum.api.writes.patch": content.update_record,
    "vellum.api.writes.delete": content.delete_record,
    "vellum.api.history.sync_records": content.sync,
    "vellum.api.history.versions": content.versions,
    "vellum.api.history.at_version": content.at_version,
    "vellum.api.history.diff": content.diff,
    "vellum.api.history.restore": content.restore,
    "vellum.api.content.list_content": content.list_content,
    "vellum.api.content.get_content": content.get_content,
    "vellum.api.content.create_content": content.create_content,
    "vellum.api.content.replace_content": content.update_content,
    "vellum.api.content.patch_content": content.update_content,
    "vellum.api.content.delete_content": content.delete_content,
    "vellum.api.media.upload": content.upload,
    "vellum.api.media.upload_multiple": content.upload_multiple,
    "vellum.api.media.list_media": content.list_media,
    "vellum.api.media.get_media": content.get_media,
    "vellum.api.media.update_media": content.update_media,
    "vellum.api.media.delete_media": content.delete_media,
    "vellum.api.media.serve_file": content.serve_file,
    "vellum.api.accounts.login": access.login,
    "vellum.api.accounts.refresh": access.refresh,
    "vellum.api.accounts.logout": access.logout,
    "vellum.api.accounts.me": access.me,
    "vellum.api.accounts.list_users": access.list_users,
    "vellum.api.accounts.create_user": access.create_user,
    "vellum.api.accounts.get_user": access.get_user,
    "vellum.api.accounts.update_user": access.update_user,
    "vellum.api.accounts.delete_user": access.delete_user,
    "vellum.api.accounts.list_keys": access.list_keys,
    "vellum.api.accounts.create_key": access.create_key,
    "vellum.api.accounts.get_key": access.get_key,
    "vellum.api.accounts.rotate_key": access.rotate_key,
    "vellum.api.accounts.revoke_key": access.revoke_key,
    "vellum.api.accounts.key_activity": access.key_activity,
    "vellum.api.oauth.list_apps": access.list_apps,
    "vellum.api.oauth.register_app": access.register_app,
    "vellum.api.oauth.get_app": access.get_app,
    "vellum.api.oauth.delete_app": access.delete_app,
    "vellum.api.oauth.issue_token": access.issue_token,
    "vellum.api.oauth.revoke_token": access.revoke_token,
    "vellum.api.oauth.server_metadata": access.server_metadata,
    "vellum.web.consent.authorize": access.authorize,
    "vellum.api.events.stream": access.stream,
    "vellum.api.events.emit_custom": access.emit_custom,
    "vellum.api.webhooks.list_webhooks": access.list_webhooks,
    "vellum.api.webhooks.create_webhook": access.create_webhook,
    "vellum.api.webhooks.get_webhook": access.get_webhook,
    "vellum.api.webhooks.update_webhook": access.update_webhook,
    "vellum.api.webhooks.delete_webhook": access.delete_webhook,
    "vellum.api.webhooks.list_deliveries": access.list_deliveries,
    "vellum.api.webhooks.redeliver": access.redeliver,
    "vellum.api.git_hooks.push_webhook": access.push_webhook,
    "vellum.api.graphql.get": access.graphql_get,
    "vellum.api.graphql.post": access.graphql_post,
}
