-- Roles and permissions of keys, identities that can be deleted, root keys that can be disabled,
-- expire and say when they were last used (PostgreSQL; mirrors sqlite/0005).

-- Permissions your keys can hold, named by a slug (`documents.read`) that verifyKey's permission
-- query matches exactly. A slug is unique in its workspace whatever its case (Unkey's rule).
-- Erased when deleted, and with them every link to keys and roles.
create table permissions (
    id            text primary key,
    workspace_id  text not null references workspaces (id),
    name          text not null,
    slug          text not null,
    description   text,
    created_at    bigint not null,
    updated_at    bigint
);
create unique index permissions_by_slug on permissions (workspace_id, lower(slug));
create index permissions_by_workspace on permissions (workspace_id, id);

create table roles (
    id            text primary key,
    workspace_id  text not null references workspaces (id),
    name          text not null,
    description   text,
    created_at    bigint not null,
    updated_at    bigint
);
create unique index roles_by_name on roles (workspace_id, name);
create index roles_by_workspace on roles (workspace_id, id);

create table roles_permissions (
    role_id        text not null references roles (id) on delete cascade,
    permission_id  text not null references permissions (id) on delete cascade,
    created_at     bigint not null,
    primary key (role_id, permission_id)
);
create index roles_permissions_by_permission on roles_permissions (permission_id);

create table keys_permissions (
    key_id         text not null references keys (id) on delete cascade,
    permission_id  text not null references permissions (id) on delete cascade,
    created_at     bigint not null,
    primary key (key_id, permission_id)
);
create index keys_permissions_by_permission on keys_permissions (permission_id);

create table keys_roles (
    key_id      text not null references keys (id) on delete cascade,
    role_id     text not null references roles (id) on delete cascade,
    created_at  bigint not null,
    primary key (key_id, role_id)
);
create index keys_roles_by_role on keys_roles (role_id);

-- Identities are soft-deleted, and a deleted identity's externalId can be given to a new one at
-- once: the externalId is unique among live identities only.
alter table identities add column deleted_at bigint;
alter table identities drop constraint identities_workspace_id_external_id_key;
create unique index identities_by_external_id on identities (workspace_id, external_id)
    where deleted_at is null;
create index identities_by_workspace on identities (workspace_id, id);

alter table root_keys add column enabled boolean not null default true;
alter table root_keys add column expires_at bigint;
alter table root_keys add column updated_at bigint;
alter table root_keys add column last_used_at bigint;
