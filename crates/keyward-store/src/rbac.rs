//! `permissions`, `roles` and their links to keys and to each other.
//!
//! A permission's slug is unique per workspace whatever its case (`lower(slug)` is indexed), so
//! every lookup by slug compares lowercased text; the slug is stored and answered as written.
//! Permissions and roles are erased when deleted: the links cascade with them.

use sqlx::AssertSqlSafe;

use crate::patch::{Changes, Value};
use crate::{AsConn, StoreResult, on_conn, rows_affected};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PermissionRecord {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RoleRecord {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

/// A permission as reached from something that holds it: a key (directly or through one of its
/// roles) or a role.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HeldPermission {
    /// The key or role that holds it.
    pub holder_id: String,
    /// The role it comes through, for a key's permission held through a role.
    pub role_id: Option<String>,
    pub id: String,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
}

/// A role a key holds.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HeldRole {
    pub key_id: String,
    pub id: String,
    pub name: String,
    pub description: Option<String>,
}

const PERMISSION_COLUMNS: &str =
    "id, workspace_id, name, slug, description, created_at, updated_at";
const ROLE_COLUMNS: &str = "id, workspace_id, name, description, created_at, updated_at";

/// `$from, $from+1, …` for `count` values.
fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `like` pattern matching text that contains `search` (lowercased, `%`, `_` and `\` escaped).
pub fn contains_pattern(search: &str) -> String {
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    for c in search.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

// ---------------------------------------------------------------------------------------------
// permissions

/// Inserts `p`; a slug already used in the workspace (in any case) is [`crate::StoreError::Conflict`].
pub async fn insert_permission(c: &mut impl AsConn, p: &PermissionRecord) -> StoreResult<()> {
    on_conn!(c, |conn| {
        sqlx::query(
            "insert into permissions (id, workspace_id, name, slug, description, created_at) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&p.id)
        .bind(&p.workspace_id)
        .bind(&p.name)
        .bind(&p.slug)
        .bind(&p.description)
        .bind(p.created_at)
        .execute(conn)
        .await
        .map(rows_affected)
    })?;
    Ok(())
}

/// Inserts those of `new` whose slug no permission of the workspace has yet (a concurrent
/// transaction may have created some meanwhile: those are skipped, not an error).
pub async fn insert_missing_permissions(
    c: &mut impl AsConn,
    new: &[PermissionRecord],
) -> StoreResult<()> {
    // 6 values per row; a few hundred rows per statement stays far below every backend's limit
    // on bound values.
    for chunk in new.chunks(500) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders(6 * i + 1, 6)))
            .collect();
        let sql = format!(
            "insert into permissions (id, workspace_id, name, slug, description, created_at) \
             values {} on conflict do nothing",
            rows.join(", ")
        );
        on_conn!(c, |conn| {
            let mut query = sqlx::query(AssertSqlSafe(sql.clone()));
            for p in chunk {
                query = query
                    .bind(&p.id)
                    .bind(&p.workspace_id)
                    .bind(&p.name)
                    .bind(&p.slug)
                    .bind(&p.description)
                    .bind(p.created_at);
            }
            query.execute(conn).await.map(rows_affected)
        })?;
    }
    Ok(())
}

/// The permission of `workspace_id` whose id is `id_or_slug`, or else whose slug is (in any case).
pub async fn find_permission(
    c: &mut impl AsConn,
    workspace_id: &str,
    id_or_slug: &str,
) -> StoreResult<Option<PermissionRecord>> {
    let sql = format!(
        "select {PERMISSION_COLUMNS} from permissions \
         where workspace_id = $1 and (id = $2 or lower(slug) = $3) \
         order by case when id = $2 then 0 else 1 end limit 1"
    );
    on_conn!(c, |conn| {
        sqlx::query_as(AssertSqlSafe(sql.clone()))
            .bind(workspace_id)
            .bind(id_or_slug)
            .bind(id_or_slug.to_lowercase())
            .fetch_optional(conn)
            .await
    })
}

/// The permissions of `workspace_id` with these slugs (compared in lower case), in slug order.
pub async fn find_permissions_by_slugs(
    c: &mut impl AsConn,
    workspace_id: &str,
    slugs: &[String],
) -> StoreResult<Vec<PermissionRecord>> {
    let mut found = Vec::new();
    for chunk in slugs.chunks(500) {
        let sql = format!(
            "select {PERMISSION_COLUMNS} from permissions \
             where workspace_id = $1 and lower(slug) in ({}) order by slug",
            placeholders(2, chunk.len())
        );
        let rows: Vec<PermissionRecord> = on_conn!(c, |conn| {
            let mut query = sqlx::query_as(AssertSqlSafe(sql.clone())).bind(workspace_id);
            for slug in chunk {
                query = query.bind(slug.to_lowercase());
            }
            query.fetch_all(conn).await
        })?;
        found.extend(rows);
    }
    Ok(found)
}

/// One page of the permissions of `workspace_id` in id order after `after`, optionally those
/// whose name or slug contains `search` (any case).
pub async fn list_permissions(
    c: &mut impl AsConn,
    workspace_id: &str,
    search: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<PermissionRecord>> {
    let sql = format!(
        "select {PERMISSION_COLUMNS} from permissions where workspace_id = $1 \
         and ($2 is null or lower(name) like $2 escape '\\' or lower(slug) like $2 escape '\\') \
         and ($3 is null or id > $3) order by id limit $4"
    );
    on_conn!(c, |conn| {
        sqlx::query_as(AssertSqlSafe(sql.clone()))
            .bind(workspace_id)
            .bind(search.map(contains_pattern))
            .bind(after)
            .bind(limit)
            .fetch_all(conn)
            .await
    })
}

/// The changeable fields of a permission; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionPatch {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<Option<String>>,
}

impl PermissionPatch {
    pub fn is_empty(&self) -> bool {
        *self == PermissionPatch::default()
    }
}

/// Writes what `patch` changes; a slug another permission has is a conflict.
pub async fn update_permission(
    c: &mut impl AsConn,
    id: &str,
    patch: &PermissionPatch,
    now: i64,
) -> StoreResult<()> {
    let mut changes = Changes::default();
    if let Some(name) = &patch.name {
        changes.set("name", Value::Text(Some(name.clone())));
    }
    if let Some(slug) = &patch.slug {
        changes.set("slug", Value::Text(Some(slug.clone())));
    }
    if let Some(description) = &patch.description {
        changes.set("description", Value::Text(description.clone()));
    }
    changes.set("updated_at", Value::Int(Some(now)));
    changes.apply(c, "permissions", id).await?;
    Ok(())
}

/// Erases the permission and every link to it (keys, roles).
pub async fn delete_permission(c: &mut impl AsConn, id: &str) -> StoreResult<()> {
    on_conn!(c, |conn| sqlx::query(
        "delete from permissions where id = $1"
    )
    .bind(id)
    .execute(conn)
    .await
    .map(rows_affected))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// roles

/// Inserts `r`; a name already used in the workspace is [`crate::StoreError::Conflict`].
pub async fn insert_role(c: &mut impl AsConn, r: &RoleRecord) -> StoreResult<()> {
    on_conn!(c, |conn| {
        sqlx::query(
            "insert into roles (id, workspace_id, name, description, created_at) \
             values ($1, $2, $3, $4, $5)",
        )
        .bind(&r.id)
        .bind(&r.workspace_id)
        .bind(&r.name)
        .bind(&r.description)
        .bind(r.created_at)
        .execute(conn)
        .await
        .map(rows_affected)
    })?;
    Ok(())
}

/// The role of `workspace_id` whose id is `id_or_name`, or else whose name is.
pub async fn find_role(
    c: &mut impl AsConn,
    workspace_id: &str,
    id_or_name: &str,
) -> StoreResult<Option<RoleRecord>> {
    let sql = format!(
        "select {ROLE_COLUMNS} from roles where workspace_id = $1 and (id = $2 or name = $2) \
         order by case when id = $2 then 0 else 1 end limit 1"
    );
    on_conn!(c, |conn| {
        sqlx::query_as(AssertSqlSafe(sql.clone()))
            .bind(workspace_id)
            .bind(id_or_name)
            .fetch_optional(conn)
            .await
    })
}

/// The roles of `workspace_id` with these names, in name order.
pub async fn find_roles_by_names(
    c: &mut impl AsConn,
    workspace_id: &str,
    names: &[String],
) -> StoreResult<Vec<RoleRecord>> {
    let mut found = Vec::new();
    for chunk in names.chunks(500) {
        let sql = format!(
            "select {ROLE_COLUMNS} from roles where workspace_id = $1 and name in ({}) \
             order by name",
            placeholders(2, chunk.len())
        );
        let rows: Vec<RoleRecord> = on_conn!(c, |conn| {
            let mut query = sqlx::query_as(AssertSqlSafe(sql.clone())).bind(workspace_id);
            for name in chunk {
                query = query.bind(name);
            }
            query.fetch_all(conn).await
        })?;
        found.extend(rows);
    }
    Ok(found)
}

/// One page of the roles of `workspace_id` in id order after `after`, optionally those whose
/// name contains `search` (any case).
pub async fn list_roles(
    c: &mut impl AsConn,
    workspace_id: &str,
    search: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<RoleRecord>> {
    let sql = format!(
        "select {ROLE_COLUMNS} from roles where workspace_id = $1 \
         and ($2 is null or lower(name) like $2 escape '\\') \
         and ($3 is null or id > $3) order by id limit $4"
    );
    on_conn!(c, |conn| {
        sqlx::query_as(AssertSqlSafe(sql.clone()))
            .bind(workspace_id)
            .bind(search.map(contains_pattern))
            .bind(after)
            .bind(limit)
            .fetch_all(conn)
            .await
    })
}

/// The changeable fields of a role; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolePatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
}

impl RolePatch {
    pub fn is_empty(&self) -> bool {
        *self == RolePatch::default()
    }
}

/// Writes what `patch` changes; a name another role has is a conflict.
pub async fn update_role(
    c: &mut impl AsConn,
    id: &str,
    patch: &RolePatch,
    now: i64,
) -> StoreResult<()> {
    let mut changes = Changes::default();
    if let Some(name) = &patch.name {
        changes.set("name", Value::Text(Some(name.clone())));
    }
    if let Some(description) = &patch.description {
        changes.set("description", Value::Text(description.clone()));
    }
    changes.set("updated_at", Value::Int(Some(now)));
    changes.apply(c, "roles", id).await?;
    Ok(())
}

/// Erases the role and every link to it (keys, permissions).
pub async fn delete_role(c: &mut impl AsConn, id: &str) -> StoreResult<()> {
    on_conn!(c, |conn| sqlx::query("delete from roles where id = $1")
        .bind(id)
        .execute(conn)
        .await
        .map(rows_affected))?;
    Ok(())
}

/// The permissions of these roles (`holder_id` = the role), in slug order.
pub async fn permissions_of_roles(
    c: &mut impl AsConn,
    role_ids: &[String],
) -> StoreResult<Vec<HeldPermission>> {
    let mut found = Vec::new();
    for chunk in role_ids.chunks(500) {
        let sql = format!(
            "select rp.role_id as holder_id, cast(null as text) as role_id, p.id, p.name, p.slug, p.description \
             from roles_permissions rp join permissions p on p.id = rp.permission_id \
             where rp.role_id in ({}) order by p.slug",
            placeholders(1, chunk.len())
        );
        let rows: Vec<HeldPermission> = on_conn!(c, |conn| {
            let mut query = sqlx::query_as(AssertSqlSafe(sql.clone()));
            for id in chunk {
                query = query.bind(id);
            }
            query.fetch_all(conn).await
        })?;
        found.extend(rows);
    }
    Ok(found)
}

// ---------------------------------------------------------------------------------------------
// links

/// A link table between a holder (key or role) and what it holds (permission or role).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// A key's direct permissions.
    KeyPermissions,
    /// A key's roles.
    KeyRoles,
    /// A role's permissions.
    RolePermissions,
}

impl Link {
    const fn table(self) -> &'static str {
        match self {
            Link::KeyPermissions => "keys_permissions",
            Link::KeyRoles => "keys_roles",
            Link::RolePermissions => "roles_permissions",
        }
    }
    const fn holder(self) -> &'static str {
        match self {
            Link::KeyPermissions | Link::KeyRoles => "key_id",
            Link::RolePermissions => "role_id",
        }
    }
    const fn held(self) -> &'static str {
        match self {
            Link::KeyPermissions | Link::RolePermissions => "permission_id",
            Link::KeyRoles => "role_id",
        }
    }
}

/// Links `holder` to each of `held` it is not linked to yet.
pub async fn link(
    c: &mut impl AsConn,
    link: Link,
    holder: &str,
    held: &[String],
    now: i64,
) -> StoreResult<()> {
    for chunk in held.chunks(500) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${}, $2)", i + 3))
            .collect();
        let sql = format!(
            "insert into {} ({}, {}, created_at) values {} on conflict do nothing",
            link.table(),
            link.holder(),
            link.held(),
            rows.join(", ")
        );
        on_conn!(c, |conn| {
            let mut query = sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(holder)
                .bind(now);
            for id in chunk {
                query = query.bind(id);
            }
            query.execute(conn).await.map(rows_affected)
        })?;
    }
    Ok(())
}

/// Removes the links of `holder` to `held`.
pub async fn unlink(
    c: &mut impl AsConn,
    link: Link,
    holder: &str,
    held: &[String],
) -> StoreResult<()> {
    for chunk in held.chunks(500) {
        let sql = format!(
            "delete from {} where {} = $1 and {} in ({})",
            link.table(),
            link.holder(),
            link.held(),
            placeholders(2, chunk.len())
        );
        on_conn!(c, |conn| {
            let mut query = sqlx::query(AssertSqlSafe(sql.clone())).bind(holder);
            for id in chunk {
                query = query.bind(id);
            }
            query.execute(conn).await.map(rows_affected)
        })?;
    }
    Ok(())
}

/// Makes `held` exactly what `holder` is linked to.
pub async fn set_links(
    c: &mut impl AsConn,
    link_kind: Link,
    holder: &str,
    held: &[String],
    now: i64,
) -> StoreResult<()> {
    let sql = format!(
        "delete from {} where {} = $1",
        link_kind.table(),
        link_kind.holder()
    );
    on_conn!(c, |conn| sqlx::query(AssertSqlSafe(sql.clone()))
        .bind(holder)
        .execute(conn)
        .await
        .map(rows_affected))?;
    link(c, link_kind, holder, held, now).await
}

/// Every permission of these keys: direct ones (`role_id` null) and those through their roles
/// (`role_id` set; a permission held both ways appears once per way), in slug order.
pub async fn permissions_of_keys(
    c: &mut impl AsConn,
    key_ids: &[String],
) -> StoreResult<Vec<HeldPermission>> {
    let mut found = Vec::new();
    for chunk in key_ids.chunks(400) {
        let list = placeholders(1, chunk.len());
        let sql = format!(
            "select kp.key_id as holder_id, cast(null as text) as role_id, p.id, p.name, p.slug, p.description \
             from keys_permissions kp join permissions p on p.id = kp.permission_id \
             where kp.key_id in ({list}) \
             union all \
             select kr.key_id as holder_id, kr.role_id as role_id, p.id, p.name, p.slug, p.description \
             from keys_roles kr join roles_permissions rp on rp.role_id = kr.role_id \
             join permissions p on p.id = rp.permission_id \
             where kr.key_id in ({list}) \
             order by slug"
        );
        let rows: Vec<HeldPermission> = on_conn!(c, |conn| {
            let mut query = sqlx::query_as(AssertSqlSafe(sql.clone()));
            for id in chunk {
                query = query.bind(id);
            }
            query.fetch_all(conn).await
        })?;
        found.extend(rows);
    }
    Ok(found)
}

/// The roles of these keys, in name order.
pub async fn roles_of_keys(c: &mut impl AsConn, key_ids: &[String]) -> StoreResult<Vec<HeldRole>> {
    let mut found = Vec::new();
    for chunk in key_ids.chunks(500) {
        let sql = format!(
            "select kr.key_id, r.id, r.name, r.description from keys_roles kr \
             join roles r on r.id = kr.role_id where kr.key_id in ({}) order by r.name",
            placeholders(1, chunk.len())
        );
        let rows: Vec<HeldRole> = on_conn!(c, |conn| {
            let mut query = sqlx::query_as(AssertSqlSafe(sql.clone()));
            for id in chunk {
                query = query.bind(id);
            }
            query.fetch_all(conn).await
        })?;
        found.extend(rows);
    }
    Ok(found)
}

/// One grant of a key: a direct permission (`role_id` null), a permission through a role (both
/// set), or a role (`permission_id` null). `name` is the permission's slug or the role's name.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyGrant {
    pub key_id: String,
    pub role_id: Option<String>,
    pub permission_id: Option<String>,
    pub name: String,
}

/// Everything these keys hold — direct permissions, roles, and the permissions of those roles —
/// in one query (a key's grants are read whenever it is loaded for verification).
pub async fn grants_of_keys(c: &mut impl AsConn, key_ids: &[String]) -> StoreResult<Vec<KeyGrant>> {
    let mut found = Vec::new();
    for chunk in key_ids.chunks(300) {
        let list = placeholders(1, chunk.len());
        let sql = format!(
            "select kp.key_id, cast(null as text) as role_id, p.id as permission_id, p.slug as name \
             from keys_permissions kp join permissions p on p.id = kp.permission_id \
             where kp.key_id in ({list}) \
             union all \
             select kr.key_id, kr.role_id, rp.permission_id, p.slug as name \
             from keys_roles kr join roles_permissions rp on rp.role_id = kr.role_id \
             join permissions p on p.id = rp.permission_id where kr.key_id in ({list}) \
             union all \
             select kr.key_id, r.id as role_id, cast(null as text) as permission_id, r.name \
             from keys_roles kr join roles r on r.id = kr.role_id where kr.key_id in ({list})"
        );
        let rows: Vec<KeyGrant> = on_conn!(c, |conn| {
            let mut query = sqlx::query_as(AssertSqlSafe(sql.clone()));
            for id in chunk {
                query = query.bind(id);
            }
            query.fetch_all(conn).await
        })?;
        found.extend(rows);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_patterns_match_text_literally() {
        assert_eq!(contains_pattern("Doc"), "%doc%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn placeholders_count_from_where_they_start() {
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(placeholders(1, 0), "");
    }
}
