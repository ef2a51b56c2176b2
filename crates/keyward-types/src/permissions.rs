//! Root-key permissions, parsed once into types and checked without allocating.
//!
//! Two forms are accepted, with one meaning (Unkey documents both on every operation):
//! - the legacy tuple `<resource>.<id>.<action>`: `api.*.delete_key` (every API of the
//!   workspace), `api.api_123.delete_key` (one API); `<id>` is `*` or one concrete id;
//! - the URN `unkey:v1:<workspaceId>:<resource path>#<action>`:
//!   `unkey:v1:ws_1:keyspaces/api_123/keys/*#delete_key`, `unkey:v1:ws_1:rootKeys/*#write`. In a
//!   path, `*` matches exactly one segment and a trailing `**` everything below; an action `*` is
//!   allowed only with the resource `**`. An API is a "keyspace" in Unkey's newest vocabulary,
//!   and a keyspace's id in keyward is its API's id. A URN naming another workspace grants nothing.
//!
//! [`Grant::parse`] turns a string into a [`Grant`]; [`Grants`] is a root key's set, and
//! [`Grants::allows`] answers whether it may perform an [`Action`] on a [`Target`]. Tuples are
//! matched as Unkey matches them: a tuple grants its action on its one resource type (`api.*.x`
//! is not a glob over resource types or actions).

use std::fmt;

/// Longest permission string accepted.
pub const MAX_PERMISSION_LEN: usize = 512;
/// Most segments in a URN's resource path.
const MAX_URN_SEGMENTS: usize = 16;

macro_rules! resources {
    ($($variant:ident => $text:literal,)*) => {
        /// The resource types of legacy tuples.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Resource { $($variant,)* }

        impl Resource {
            pub const ALL: &'static [Resource] = &[$(Resource::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self { $(Resource::$variant => $text,)* }
            }

            fn parse(text: &str) -> Option<Resource> {
                match text { $($text => Some(Resource::$variant),)* _ => None }
            }
        }
    };
}

resources! {
    Api => "api",
    Ratelimit => "ratelimit",
    Rbac => "rbac",
    Identity => "identity",
    RootKey => "rootkey",
    AuditLog => "auditlog",
    Workspace => "workspace",
}

macro_rules! actions {
    ($($variant:ident => ($resource:ident, $text:literal),)*) => {
        /// Everything a root key can be allowed to do, each belonging to one [`Resource`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Action { $($variant,)* }

        impl Action {
            /// Every action, in declaration order (their [`Action::index`]).
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            pub const fn resource(self) -> Resource {
                match self { $(Action::$variant => Resource::$resource,)* }
            }

            /// The action's name in a tuple (`delete_key` in `api.*.delete_key`).
            pub const fn name(self) -> &'static str {
                match self { $(Action::$variant => $text,)* }
            }

            fn of(resource: Resource, name: &str) -> Option<Action> {
                match (resource, name) {
                    $((Resource::$resource, $text) => Some(Action::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

actions! {
    CreateApi => (Api, "create_api"),
    ReadApi => (Api, "read_api"),
    UpdateApi => (Api, "update_api"),
    DeleteApi => (Api, "delete_api"),
    CreateKey => (Api, "create_key"),
    ReadKey => (Api, "read_key"),
    UpdateKey => (Api, "update_key"),
    DeleteKey => (Api, "delete_key"),
    EncryptKey => (Api, "encrypt_key"),
    DecryptKey => (Api, "decrypt_key"),
    VerifyKey => (Api, "verify_key"),
    ReadApiAnalytics => (Api, "read_analytics"),
    Limit => (Ratelimit, "limit"),
    CreateNamespace => (Ratelimit, "create_namespace"),
    ReadNamespace => (Ratelimit, "read_namespace"),
    UpdateNamespace => (Ratelimit, "update_namespace"),
    DeleteNamespace => (Ratelimit, "delete_namespace"),
    SetOverride => (Ratelimit, "set_override"),
    ReadOverride => (Ratelimit, "read_override"),
    DeleteOverride => (Ratelimit, "delete_override"),
    ListOverrides => (Ratelimit, "list_overrides"),
    ReadRatelimitAnalytics => (Ratelimit, "read_analytics"),
    CreatePermission => (Rbac, "create_permission"),
    ReadPermission => (Rbac, "read_permission"),
    UpdatePermission => (Rbac, "update_permission"),
    DeletePermission => (Rbac, "delete_permission"),
    CreateRole => (Rbac, "create_role"),
    ReadRole => (Rbac, "read_role"),
    UpdateRole => (Rbac, "update_role"),
    DeleteRole => (Rbac, "delete_role"),
    AddPermissionToKey => (Rbac, "add_permission_to_key"),
    RemovePermissionFromKey => (Rbac, "remove_permission_from_key"),
    AddRoleToKey => (Rbac, "add_role_to_key"),
    RemoveRoleFromKey => (Rbac, "remove_role_from_key"),
    AddPermissionToRole => (Rbac, "add_permission_to_role"),
    RemovePermissionFromRole => (Rbac, "remove_permission_from_role"),
    CreateIdentity => (Identity, "create_identity"),
    ReadIdentity => (Identity, "read_identity"),
    UpdateIdentity => (Identity, "update_identity"),
    DeleteIdentity => (Identity, "delete_identity"),
    CreateRootKey => (RootKey, "create_root_key"),
    ReadRootKey => (RootKey, "read_root_key"),
    UpdateRootKey => (RootKey, "update_root_key"),
    DeleteRootKey => (RootKey, "delete_root_key"),
    ReadAuditLog => (AuditLog, "read_audit_log"),
    CreateWorkspace => (Workspace, "create_workspace"),
}

const _: () = assert!(Action::ALL.len() <= 64, "wildcard grants are a u64 bitset");

impl Action {
    /// The action's position in [`Action::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    const fn bit(self) -> u64 {
        1 << self.index()
    }

    /// The tuple granting this action on every resource of its type: `api.*.delete_key`.
    pub fn wildcard(self) -> String {
        format!("{}.*.{}", self.resource().as_str(), self.name())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.resource().as_str(), self.name())
    }
}

/// Resource types whose permissions only make sense on the instance's bootstrap key: they act
/// beyond one workspace, so a workspace's own root keys never receive them.
pub const INSTANCE_LEVEL: &[Resource] = &[Resource::Workspace];

/// Every `<resource>.*.<action>` permission, optionally with the instance-level ones.
pub fn all_wildcards(include_instance_level: bool) -> Vec<String> {
    Action::ALL
        .iter()
        .filter(|a| include_instance_level || !INSTANCE_LEVEL.contains(&a.resource()))
        .map(|a| a.wildcard())
        .collect()
}

/// The permissions of a workspace's all-powerful root key: every wildcard tuple, and the URN
/// granting everything in the workspace (`unkey:v1:<ws>:**#*`), so that it can hand out
/// permissions in either form.
pub fn all_powerful(workspace_id: &str, include_instance_level: bool) -> Vec<String> {
    let mut all = all_wildcards(include_instance_level);
    all.push(format!("unkey:v1:{workspace_id}:**#*"));
    all
}

/// The resource an action is performed on, as an operation knows it after its lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// The workspace as a whole: creating or listing things that have no single owner.
    Workspace,
    /// An API (a keyspace), by id.
    Api(&'a str),
    /// A key of an API.
    Key { api_id: &'a str, key_id: &'a str },
    /// A root key, by id.
    RootKey(&'a str),
    /// A rate-limit namespace, by id.
    Namespace(&'a str),
    /// An identity, by id.
    Identity(&'a str),
    /// A permission of keys and roles, by id.
    Permission(&'a str),
    /// A role, by id.
    Role(&'a str),
}

impl<'a> Target<'a> {
    /// The id a tuple's `<id>` names for actions of `resource` on this target, if any.
    pub fn tuple_id(&self, resource: Resource) -> Option<&'a str> {
        match (resource, *self) {
            (Resource::Api, Target::Api(id) | Target::Key { api_id: id, .. }) => Some(id),
            (Resource::Ratelimit, Target::Namespace(id)) => Some(id),
            (Resource::Identity, Target::Identity(id)) => Some(id),
            (Resource::RootKey, Target::RootKey(id)) => Some(id),
            _ => None,
        }
    }
}

/// The URN resource path and action that grant `action` on `target`: the pattern a URN grant
/// must match, as Unkey's handlers build it (keyward's API id is the keyspace id). Segments equal
/// to `*` stand for "every one": listing every key of an API needs a grant covering
/// `keyspaces/<id>/keys/*`, and identities are always checked as `projects/*/identities/*`, so only
/// a `*` or `**` in the grant matches them. Actions Unkey checks by tuple only have no URN here;
/// `create_keyspace`, `update_keyspace` and `delete_keyspace` follow Unkey's documented
/// vocabulary (its handlers check tuples only), and root keys use the `rootKeys` group's
/// `read`/`write`/`delete`.
fn urn_needed<'a>(action: Action, target: &Target<'a>) -> Option<(UrnPath<'a>, &'static str)> {
    use Action as A;
    let path = |segments: &[&'a str]| UrnPath::new(segments);
    Some(match (action, *target) {
        (A::CreateApi, _) => (path(&["keyspaces", "*"]), "create_keyspace"),
        (A::ReadApi, Target::Api(api)) => (path(&["keyspaces", api]), "read_keyspace"),
        (A::UpdateApi, Target::Api(api)) => (path(&["keyspaces", api]), "update_keyspace"),
        (A::DeleteApi, Target::Api(api)) => (path(&["keyspaces", api]), "delete_keyspace"),
        (A::CreateKey, Target::Api(api) | Target::Key { api_id: api, .. }) => {
            (path(&["keyspaces", api]), "create_key")
        }
        (
            A::ReadKey | A::UpdateKey | A::DeleteKey | A::EncryptKey | A::DecryptKey | A::VerifyKey,
            Target::Key { api_id, key_id },
        ) => (path(&["keyspaces", api_id, "keys", key_id]), action.name()),
        (
            A::ReadKey | A::UpdateKey | A::DeleteKey | A::EncryptKey | A::DecryptKey | A::VerifyKey,
            Target::Api(api),
        ) => (path(&["keyspaces", api, "keys", "*"]), action.name()),
        (A::CreateIdentity | A::ReadIdentity | A::UpdateIdentity | A::DeleteIdentity, _) => {
            (path(&["projects", "*", "identities", "*"]), action.name())
        }
        (A::CreatePermission, _) => (path(&["rbac", "permissions", "*"]), "create_permission"),
        (A::CreateRole, _) => (path(&["rbac", "roles", "*"]), "create_role"),
        // Changing a key's permissions or roles is changing the key: Unkey's handlers accept the
        // key's `update_key` URN alone for it, where the tuple form also needs the `rbac` action.
        (
            A::AddPermissionToKey
            | A::RemovePermissionFromKey
            | A::AddRoleToKey
            | A::RemoveRoleFromKey,
            Target::Key { api_id, key_id },
        ) => (path(&["keyspaces", api_id, "keys", key_id]), "update_key"),
        // Unkey's newest operations name RBAC resources under a project; keyward has none, so
        // a grant matches with `projects/*` (as Unkey's identity checks do).
        (A::UpdatePermission, Target::Permission(id)) => {
            (path(&["projects", "*", "rbac", "permissions", id]), "write")
        }
        (A::UpdateRole, Target::Role(id)) => {
            (path(&["projects", "*", "rbac", "roles", id]), "write")
        }
        (A::ReadOverride, Target::Namespace(ns)) => (
            path(&["ratelimits", "namespaces", ns, "overrides", "*"]),
            "read_override",
        ),
        (A::CreateRootKey, _) => (path(&["rootKeys", "*"]), "write"),
        (A::UpdateRootKey, Target::RootKey(id)) => (path(&["rootKeys", id]), "write"),
        (A::ReadRootKey, Target::RootKey(id)) => (path(&["rootKeys", id]), "read"),
        (A::ReadRootKey, _) => (path(&["rootKeys", "*"]), "read"),
        (A::DeleteRootKey, Target::RootKey(id)) => (path(&["rootKeys", id]), "delete"),
        _ => return None,
    })
}

/// The URN granting `action` on `target` to a root key of `workspace_id`, as an error message
/// names it; `None` for actions checked by tuple only.
pub fn urn_granting(workspace_id: &str, action: Action, target: &Target<'_>) -> Option<String> {
    urn_needed(action, target).map(|(path, name)| {
        format!(
            "unkey:v1:{workspace_id}:{}#{name}",
            path.segments().join("/")
        )
    })
}

/// A concrete resource path of at most a few segments, kept on the stack.
#[derive(Debug, Clone, Copy)]
struct UrnPath<'a> {
    segments: [&'a str; 5],
    len: usize,
}

impl<'a> UrnPath<'a> {
    fn new(segments: &[&'a str]) -> UrnPath<'a> {
        let mut path = UrnPath {
            segments: [""; 5],
            len: segments.len(),
        };
        path.segments[..segments.len()].copy_from_slice(segments);
        path
    }

    fn segments(&self) -> &[&'a str] {
        &self.segments[..self.len]
    }
}

/// Which resources of its type a tuple covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `*`: every one in the workspace.
    All,
    /// One, by id.
    One(Box<str>),
}

/// One segment of a URN's resource path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    Name(Box<str>),
    /// `*`: exactly one segment.
    One,
    /// `**`, last only: any number of segments (including none).
    Deep,
}

/// A URN grant: `unkey:v1:<workspace>:<path>#<action>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Urn {
    workspace: Box<str>,
    path: Box<[Segment]>,
    /// `None`: `*`, every action.
    action: Option<Box<str>>,
}

/// A parsed permission string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Grant {
    Tuple { action: Action, scope: Scope },
    Urn(Urn),
}

/// Why a permission string is not one keyward knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermissionError {
    TooLong,
    Shape,
    UnknownResource(String),
    UnknownAction { resource: String, action: String },
    BadId,
    BadUrn(&'static str),
}

impl fmt::Display for PermissionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PermissionError::TooLong => {
                write!(f, "is longer than {MAX_PERMISSION_LEN} characters")
            }
            PermissionError::Shape => f.write_str(
                "must have the form <resource>.<id or *>.<action> or unkey:v1:<workspaceId>:<path>#<action>",
            ),
            PermissionError::UnknownResource(r) => write!(f, "unknown resource type '{r}'"),
            PermissionError::UnknownAction { resource, action } => {
                write!(f, "unknown action '{action}' for resource type '{resource}'")
            }
            PermissionError::BadId => {
                f.write_str("the id must be '*' or letters, digits and underscores")
            }
            PermissionError::BadUrn(why) => write!(f, "is not a valid permission URN: {why}"),
        }
    }
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_segment_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

impl Grant {
    /// Parses either form. Never panics; bounded by [`MAX_PERMISSION_LEN`].
    pub fn parse(text: &str) -> Result<Grant, PermissionError> {
        if text.len() > MAX_PERMISSION_LEN {
            return Err(PermissionError::TooLong);
        }
        match text.strip_prefix("unkey:") {
            Some(rest) => Urn::parse(rest).map(Grant::Urn),
            None => Self::parse_tuple(text),
        }
    }

    fn parse_tuple(text: &str) -> Result<Grant, PermissionError> {
        let mut parts = text.split('.');
        let (Some(resource), Some(id), Some(action), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(PermissionError::Shape);
        };
        let resource_type = Resource::parse(resource)
            .ok_or_else(|| PermissionError::UnknownResource(resource.to_string()))?;
        let action =
            Action::of(resource_type, action).ok_or_else(|| PermissionError::UnknownAction {
                resource: resource.to_string(),
                action: action.to_string(),
            })?;
        let scope = match id {
            "*" => Scope::All,
            id if !id.is_empty() && id.chars().all(is_id_char) => Scope::One(id.into()),
            _ => return Err(PermissionError::BadId),
        };
        Ok(Grant::Tuple { action, scope })
    }

    /// Whether this grant lets its holder, a root key of `workspace_id`, `action` on `target`.
    pub fn allows(&self, workspace_id: &str, action: Action, target: &Target<'_>) -> bool {
        match self {
            Grant::Tuple {
                action: granted,
                scope,
            } => {
                *granted == action
                    && match scope {
                        Scope::All => true,
                        Scope::One(id) => target.tuple_id(action.resource()) == Some(&**id),
                    }
            }
            Grant::Urn(urn) => urn_needed(action, target)
                .is_some_and(|(path, name)| urn.matches(workspace_id, path.segments(), name)),
        }
    }
}

impl Urn {
    /// Parses what follows `unkey:`: `v1:<workspace>:<path>#<action>`.
    fn parse(rest: &str) -> Result<Urn, PermissionError> {
        let rest = rest.strip_prefix("v1:").ok_or(PermissionError::BadUrn(
            "only version v1 exists (unkey:v1:…)",
        ))?;
        let (workspace, rest) = rest.split_once(':').ok_or(PermissionError::BadUrn(
            "expected unkey:v1:<workspaceId>:<path>#<action>",
        ))?;
        if workspace.is_empty() || !workspace.chars().all(is_id_char) {
            return Err(PermissionError::BadUrn(
                "the workspace id must be letters, digits and underscores",
            ));
        }
        let (path, action) = rest.split_once('#').ok_or(PermissionError::BadUrn(
            "the action is missing (…#<action>)",
        ))?;
        let raw: Vec<&str> = path.split('/').collect();
        if raw.len() > MAX_URN_SEGMENTS {
            return Err(PermissionError::BadUrn(
                "the resource path has too many segments",
            ));
        }
        let mut segments = Vec::with_capacity(raw.len());
        for (i, segment) in raw.iter().enumerate() {
            segments.push(match *segment {
                "*" => Segment::One,
                "**" if i + 1 == raw.len() => Segment::Deep,
                "**" => {
                    return Err(PermissionError::BadUrn(
                        "'**' may only end the resource path",
                    ));
                }
                s if !s.is_empty() && s.chars().all(is_segment_char) => Segment::Name(s.into()),
                _ => {
                    return Err(PermissionError::BadUrn(
                        "path segments are letters, digits, '_', '-', '.', '*' or a final '**'",
                    ));
                }
            });
        }
        let action = match action {
            "*" if segments == [Segment::Deep] => None,
            "*" => {
                return Err(PermissionError::BadUrn(
                    "the action '*' is only allowed with the resource '**'",
                ));
            }
            a if !a.is_empty()
                && a.chars().all(is_id_char)
                && !a.starts_with('_')
                && !a.ends_with('_') =>
            {
                Some(a.into())
            }
            _ => {
                return Err(PermissionError::BadUrn(
                    "the action must be letters, digits and inner '_'",
                ));
            }
        };
        Ok(Urn {
            workspace: workspace.into(),
            path: segments.into(),
            action,
        })
    }

    fn matches(&self, workspace_id: &str, path: &[&str], action: &str) -> bool {
        *self.workspace == *workspace_id
            && self.action.as_deref().is_none_or(|a| a == action)
            && path_matches(&self.path, path)
    }

    /// Whether every resource and action this URN grants, `self` grants too (delegation).
    fn covers(&self, other: &Urn) -> bool {
        self.workspace == other.workspace
            && (self.action.is_none() || self.action == other.action)
            && pattern_covers(&self.path, &other.path)
    }
}

/// Whether the concrete `path` (whose `*` segments mean "every one") is matched by `pattern`.
fn path_matches(pattern: &[Segment], path: &[&str]) -> bool {
    match (pattern.split_first(), path.split_first()) {
        (Some((Segment::Deep, _)), _) => true,
        (None, None) => true,
        (Some((Segment::One, rest)), Some((_, path_rest))) => path_matches(rest, path_rest),
        (Some((Segment::Name(name), rest)), Some((segment, path_rest))) => {
            **name == **segment && *segment != "*" && path_matches(rest, path_rest)
        }
        _ => false,
    }
}

/// Whether every path `inner` matches, `outer` matches too.
fn pattern_covers(outer: &[Segment], inner: &[Segment]) -> bool {
    match (outer.split_first(), inner.split_first()) {
        (Some((Segment::Deep, _)), _) => true,
        (None, None) => true,
        (Some((Segment::One, rest)), Some((Segment::One | Segment::Name(_), inner_rest))) => {
            pattern_covers(rest, inner_rest)
        }
        (Some((Segment::Name(a), rest)), Some((Segment::Name(b), inner_rest))) => {
            a == b && pattern_covers(rest, inner_rest)
        }
        _ => false,
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::Tuple { action, scope } => {
                let id = match scope {
                    Scope::All => "*",
                    Scope::One(id) => id,
                };
                write!(f, "{}.{id}.{}", action.resource().as_str(), action.name())
            }
            Grant::Urn(urn) => {
                write!(f, "unkey:v1:{}:", urn.workspace)?;
                for (i, segment) in urn.path.iter().enumerate() {
                    if i > 0 {
                        f.write_str("/")?;
                    }
                    f.write_str(match segment {
                        Segment::Name(name) => name,
                        Segment::One => "*",
                        Segment::Deep => "**",
                    })?;
                }
                write!(f, "#{}", urn.action.as_deref().unwrap_or("*"))
            }
        }
    }
}

/// A root key's permissions, ready to check. The common grants — tuples with `*` — are one bit
/// each, so the check every verification makes (`api.*.verify_key`) is a mask test.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    wildcards: u64,
    scoped: Vec<(Action, Box<str>)>,
    urns: Vec<Urn>,
}

impl Grants {
    /// Parses every string; the first that does not parse is the error.
    pub fn parse<S: AsRef<str>>(texts: &[S]) -> Result<Grants, PermissionError> {
        let mut grants = Grants::default();
        for text in texts {
            grants.insert(Grant::parse(text.as_ref())?);
        }
        Ok(grants)
    }

    pub fn insert(&mut self, grant: Grant) {
        match grant {
            Grant::Tuple {
                action,
                scope: Scope::All,
            } => self.wildcards |= action.bit(),
            Grant::Tuple {
                action,
                scope: Scope::One(id),
            } => self.scoped.push((action, id)),
            Grant::Urn(urn) => self.urns.push(urn),
        }
    }

    /// Whether a root key of `workspace_id` holding these grants may `action` on `target`.
    pub fn allows(&self, workspace_id: &str, action: Action, target: &Target<'_>) -> bool {
        if self.wildcards & action.bit() != 0 {
            return true;
        }
        let id = target.tuple_id(action.resource());
        self.scoped
            .iter()
            .any(|(granted, scoped)| *granted == action && Some(&**scoped) == id)
            || self.urns.iter().any(|urn| {
                urn_needed(action, target)
                    .is_some_and(|(path, name)| urn.matches(workspace_id, path.segments(), name))
            })
    }

    /// Whether these grants, of a root key of `workspace_id`, include everything `grant` gives
    /// (so handing it out escalates nothing). Each form covers its own (a wildcard tuple its
    /// scoped ones; a URN pattern those it contains), and the forms cover each other where a
    /// tuple means a URN's resources exactly: `api.*.read_key` and
    /// `unkey:v1:<ws>:keyspaces/*/keys/*#read_key` cover each other. A tuple whose meaning no
    /// URN states exactly (`identity.<id>.…`, whose URN checks are for every identity) is
    /// covered by a URN covering more, never the other way round.
    pub fn covers(&self, workspace_id: &str, grant: &Grant) -> bool {
        match grant {
            Grant::Tuple { action, scope } => {
                let as_tuple = self.wildcards & action.bit() != 0
                    || match scope {
                        Scope::All => false,
                        Scope::One(id) => self
                            .scoped
                            .iter()
                            .any(|(granted, scoped)| granted == action && scoped == id),
                    };
                as_tuple
                    || tuple_as_urn(workspace_id, *action, scope)
                        .is_some_and(|(urn, _)| self.urns.iter().any(|held| held.covers(&urn)))
            }
            Grant::Urn(urn) => {
                self.urns.iter().any(|held| held.covers(urn))
                    || self.tuples().any(|(action, scope)| {
                        tuple_as_urn(workspace_id, action, &scope)
                            .is_some_and(|(held, exact)| exact && held.covers(urn))
                    })
            }
        }
    }

    /// The tuples held, wildcards included.
    fn tuples(&self) -> impl Iterator<Item = (Action, Scope)> + '_ {
        Action::ALL
            .iter()
            .filter(|action| self.wildcards & action.bit() != 0)
            .map(|action| (*action, Scope::All))
            .chain(
                self.scoped
                    .iter()
                    .map(|(action, id)| (*action, Scope::One(id.clone()))),
            )
    }
}

/// The URN pattern granting what the tuple `(action, scope)` grants in `workspace_id`, and
/// whether it grants exactly that (`false`: more). `None` for tuples no URN grants.
fn tuple_as_urn(workspace_id: &str, action: Action, scope: &Scope) -> Option<(Urn, bool)> {
    let id = match scope {
        Scope::All => "*",
        Scope::One(id) => id,
    };
    let target = match action.resource() {
        Resource::Api => match action {
            // Creating an API names no API: a scoped tuple of it grants nothing.
            Action::CreateApi if *scope != Scope::All => return None,
            _ => Target::Api(id),
        },
        Resource::Identity => Target::Identity(id),
        Resource::RootKey => match action {
            Action::CreateRootKey if *scope != Scope::All => return None,
            _ => Target::RootKey(id),
        },
        Resource::Ratelimit => Target::Namespace(id),
        // `rbac`, `auditlog` and `workspace` tuples are workspace-wide only.
        Resource::Rbac | Resource::AuditLog | Resource::Workspace => match scope {
            Scope::All => Target::Workspace,
            Scope::One(_) => return None,
        },
    };
    let (path, name) = urn_needed(action, &target)?;
    // Identity URNs are checked for every identity, and `rootKeys/*#write` also lets its holder
    // update every root key: a narrower tuple maps onto a wider URN. Otherwise the pattern, with
    // the tuple's `*` as the path's `*`, states the tuple exactly.
    let exact = match action.resource() {
        Resource::Identity => *scope == Scope::All,
        Resource::RootKey => action != Action::CreateRootKey,
        _ => true,
    };
    let segments = path
        .segments()
        .iter()
        .map(|segment| match *segment {
            "*" => Segment::One,
            name => Segment::Name(name.into()),
        })
        .collect();
    Some((
        Urn {
            workspace: workspace_id.into(),
            path: segments,
            action: Some(name.into()),
        },
        exact,
    ))
}

/// Actions added to the catalog after keyward's first release. A root key of an earlier
/// version that held every wildcard tuple of its catalog was all-powerful; [`upgrade`] gives it
/// these, and the URN form of everything, so it stays so.
pub const ADDED_SINCE_FIRST_RELEASE: &[Action] = &[Action::UpdateRootKey];

/// What an all-powerful root key of `workspace_id`, created by an earlier version, lacks of
/// today's all-powerful set ([`all_powerful`]); `None` if `held` is not such a key (it lacks a
/// wildcard tuple of the first release's workspace catalog) or lacks nothing.
pub fn upgrade(workspace_id: &str, held: &[String]) -> Option<Vec<String>> {
    let holds = |text: &str| held.iter().any(|h| h == text);
    let first_release = |action: &&Action| !ADDED_SINCE_FIRST_RELEASE.contains(action);
    let workspace_level = Action::ALL
        .iter()
        .filter(first_release)
        .filter(|a| !INSTANCE_LEVEL.contains(&a.resource()));
    if !workspace_level.clone().all(|a| holds(&a.wildcard())) {
        return None;
    }
    let instance_level = Action::ALL
        .iter()
        .filter(first_release)
        .filter(|a| INSTANCE_LEVEL.contains(&a.resource()))
        .all(|a| holds(&a.wildcard()));
    let missing: Vec<String> = all_powerful(workspace_id, instance_level)
        .into_iter()
        .filter(|p| !holds(p))
        .collect();
    (!missing.is_empty()).then_some(missing)
}

/// Checks that `permission` parses (request validation of permission lists).
pub fn check(permission: &str) -> Result<(), PermissionError> {
    Grant::parse(permission).map(|_| ())
}

/// A regular expression (JSON Schema's dialect) for the strings [`check`] accepts: every tuple
/// of the catalog, and URNs of the grammar above. (The length, [`MAX_PERMISSION_LEN`], and the
/// number of path segments are limits beside it.)
pub fn pattern() -> String {
    let tuples: Vec<String> = Resource::ALL
        .iter()
        .map(|resource| {
            let actions: Vec<&str> = Action::ALL
                .iter()
                .filter(|a| a.resource() == *resource)
                .map(|a| a.name())
                .collect();
            format!(
                "{}\\.(?:\\*|[a-zA-Z0-9_]+)\\.(?:{})",
                resource.as_str(),
                actions.join("|")
            )
        })
        .collect();
    let segment = "(?:[a-zA-Z0-9_.-]+|\\*)";
    let action = "[a-zA-Z0-9](?:[a-zA-Z0-9_]*[a-zA-Z0-9])?";
    // At most MAX_URN_SEGMENTS segments, a final `**` counting as one.
    let (most, before_deep) = (MAX_URN_SEGMENTS - 1, MAX_URN_SEGMENTS - 2);
    let urn = format!(
        "unkey:v1:[a-zA-Z0-9_]+:(?:\\*\\*#(?:\\*|{action})|{segment}(?:/{segment}){{0,{most}}}#{action}|{segment}(?:/{segment}){{0,{before_deep}}}/\\*\\*#{action})"
    );
    format!("^(?:{}|{urn})$", tuples.join("|"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(list: &[&str]) -> Grants {
        Grants::parse(list).unwrap()
    }

    const KEY: Target<'static> = Target::Key {
        api_id: "api_1",
        key_id: "key_1",
    };

    #[test]
    fn accepts_known_tuples() {
        assert_eq!(check("api.*.delete_key"), Ok(()));
        assert_eq!(check("api.api_123.verify_key"), Ok(()));
        assert_eq!(check("workspace.*.create_workspace"), Ok(()));
        assert_eq!(
            Grant::parse("api.api_1.read_key").unwrap().to_string(),
            "api.api_1.read_key"
        );
    }

    #[test]
    fn rejects_malformed_tuples() {
        assert_eq!(check("api.delete_key"), Err(PermissionError::Shape));
        assert_eq!(check("api.*.x.y"), Err(PermissionError::Shape));
        assert_eq!(check(""), Err(PermissionError::Shape));
        assert!(matches!(
            check("apis.*.delete_key"),
            Err(PermissionError::UnknownResource(_))
        ));
        assert!(matches!(
            check("api.*.delete"),
            Err(PermissionError::UnknownAction { .. })
        ));
        assert_eq!(check("api.a-b.delete_key"), Err(PermissionError::BadId));
        assert_eq!(check("api..delete_key"), Err(PermissionError::BadId));
        assert_eq!(check(&"a".repeat(600)), Err(PermissionError::TooLong));
    }

    #[test]
    fn tuples_grant_their_action_on_their_resources() {
        let g = grants(&["api.*.verify_key", "api.api_2.read_key"]);
        assert!(g.allows("ws_1", Action::VerifyKey, &KEY));
        assert!(!g.allows("ws_1", Action::ReadKey, &KEY));
        assert!(g.allows(
            "ws_1",
            Action::ReadKey,
            &Target::Key {
                api_id: "api_2",
                key_id: "key_9"
            }
        ));
        assert!(g.allows("ws_1", Action::ReadKey, &Target::Api("api_2")));
        // A tuple of one resource type says nothing of another's.
        assert!(!grants(&["ratelimit.api_1.limit"]).allows("ws_1", Action::Limit, &KEY));
    }

    #[test]
    fn urns_parse_and_print_back() {
        for text in [
            "unkey:v1:ws_1:keyspaces/api_1/keys/*#delete_key",
            "unkey:v1:ws_1:rootKeys/*#write",
            "unkey:v1:ws_1:**#*",
            "unkey:v1:ws_1:keyspaces/**#verify_key",
        ] {
            assert_eq!(Grant::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn malformed_urns_are_refused_with_a_reason() {
        for text in [
            "unkey:v2:ws_1:rootKeys/*#write",
            "unkey:v1:ws_1:rootKeys/*",
            "unkey:v1:ws_1:rootKeys/*#",
            "unkey:v1:ws_1:rootKeys/*#*",
            "unkey:v1:ws_1:**/keys#read_key",
            "unkey:v1::rootKeys#read",
            "unkey:v1:ws_1:root Keys#read",
            "unkey:v1:ws_1:a//b#read",
            "unkey:v1:ws_1:keyspaces/ks_1#_read",
            "unkey:v1:ws_1:keyspaces/ks_*#read_key",
            "unkey:v1:ws_1:keyspaces/ks_1#read#key",
            "unkey:v1",
            "unkey:",
        ] {
            assert!(
                matches!(Grant::parse(text), Err(PermissionError::BadUrn(_))),
                "{text}"
            );
        }
        let deep = format!("unkey:v1:ws_1:{}#read", vec!["a"; 20].join("/"));
        assert!(Grant::parse(&deep).is_err());
    }

    #[test]
    fn urns_match_segment_by_segment() {
        let g = grants(&["unkey:v1:ws_1:keyspaces/api_1/keys/*#delete_key"]);
        assert!(g.allows("ws_1", Action::DeleteKey, &KEY));
        assert!(!g.allows("ws_1", Action::ReadKey, &KEY));
        assert!(!g.allows(
            "ws_1",
            Action::DeleteKey,
            &Target::Key {
                api_id: "api_2",
                key_id: "key_1"
            }
        ));
        // The same URN in another workspace grants nothing.
        assert!(!g.allows("ws_2", Action::DeleteKey, &KEY));
        // `**` covers everything below; `**#*` everything.
        let deep = grants(&["unkey:v1:ws_1:keyspaces/**#verify_key"]);
        assert!(deep.allows("ws_1", Action::VerifyKey, &KEY));
        assert!(grants(&["unkey:v1:ws_1:**#*"]).allows(
            "ws_1",
            Action::DeleteRootKey,
            &Target::RootKey("key_5")
        ));
        // A grant on one key does not cover "every key of the API".
        let one = grants(&["unkey:v1:ws_1:keyspaces/api_1/keys/key_1#read_key"]);
        assert!(one.allows("ws_1", Action::ReadKey, &KEY));
        assert!(!one.allows("ws_1", Action::ReadKey, &Target::Api("api_1")));
    }

    #[test]
    fn delegation_never_widens() {
        let holder = grants(&[
            "api.*.read_key",
            "unkey:v1:ws_1:keyspaces/*/keys/*#verify_key",
        ]);
        let covers = |text: &str| holder.covers("ws_1", &Grant::parse(text).unwrap());
        assert!(covers("api.*.read_key"));
        assert!(covers("api.api_1.read_key"));
        assert!(!covers("api.*.delete_key"));
        assert!(covers("unkey:v1:ws_1:keyspaces/api_1/keys/*#verify_key"));
        assert!(covers(
            "unkey:v1:ws_1:keyspaces/api_1/keys/key_1#verify_key"
        ));
        assert!(!covers("unkey:v1:ws_1:keyspaces/**#verify_key"));
        assert!(!covers("unkey:v1:ws_2:keyspaces/api_1/keys/*#verify_key"));
        assert!(!covers("unkey:v1:ws_1:keyspaces/*/keys/*#delete_key"));
    }

    #[test]
    fn the_forms_cover_each_other_where_they_mean_the_same() {
        let urns = grants(&[
            "unkey:v1:ws_1:keyspaces/*/keys/*#read_key",
            "unkey:v1:ws_1:projects/*/identities/*#read_identity",
            "unkey:v1:ws_1:rootKeys/*#write",
        ]);
        let covers = |g: &Grants, text: &str| g.covers("ws_1", &Grant::parse(text).unwrap());
        assert!(covers(&urns, "api.*.read_key"));
        assert!(covers(&urns, "api.api_1.read_key"));
        assert!(!covers(&urns, "api.*.read_api"));
        assert!(covers(&urns, "identity.*.read_identity"));
        assert!(covers(&urns, "identity.id_1.read_identity"));
        assert!(covers(&urns, "rootkey.*.create_root_key"));
        assert!(covers(&urns, "rootkey.*.update_root_key"));
        assert!(!covers(&urns, "rootkey.*.delete_root_key"));
        // Another workspace's URNs say nothing of this one's tuples.
        assert!(!urns.covers("ws_2", &Grant::parse("api.*.read_key").unwrap()));

        let tuples = grants(&[
            "api.*.read_key",
            "api.api_1.verify_key",
            "identity.id_1.read_identity",
            "rootkey.*.create_root_key",
        ]);
        assert!(covers(
            &tuples,
            "unkey:v1:ws_1:keyspaces/api_9/keys/*#read_key"
        ));
        assert!(covers(
            &tuples,
            "unkey:v1:ws_1:keyspaces/*/keys/key_1#read_key"
        ));
        assert!(!covers(&tuples, "unkey:v1:ws_1:keyspaces/**#read_key"));
        assert!(!covers(
            &tuples,
            "unkey:v1:ws_2:keyspaces/api_9/keys/*#read_key"
        ));
        assert!(covers(
            &tuples,
            "unkey:v1:ws_1:keyspaces/api_1/keys/*#verify_key"
        ));
        assert!(!covers(
            &tuples,
            "unkey:v1:ws_1:keyspaces/api_2/keys/*#verify_key"
        ));
        // One identity's tuple is less than every identity's URN; creating root keys is less
        // than writing every root key.
        assert!(!covers(
            &tuples,
            "unkey:v1:ws_1:projects/*/identities/*#read_identity"
        ));
        assert!(!covers(&tuples, "unkey:v1:ws_1:rootKeys/*#write"));
        // `**#*` covers every tuple a URN states.
        let all = grants(&["unkey:v1:ws_1:**#*"]);
        assert!(covers(&all, "api.*.delete_key"));
        assert!(covers(&all, "rootkey.*.update_root_key"));
        assert!(!covers(&all, "workspace.*.create_workspace"));
    }

    #[test]
    fn errors_can_name_the_urn_that_grants() {
        assert_eq!(
            urn_granting("ws_1", Action::ReadIdentity, &Target::Identity("id_1")).as_deref(),
            Some("unkey:v1:ws_1:projects/*/identities/*#read_identity")
        );
        assert_eq!(
            urn_granting("ws_1", Action::ReadAuditLog, &Target::Workspace),
            None
        );
    }

    #[test]
    fn rbac_changes_of_a_key_take_its_update_key_urn() {
        let urn = grants(&["unkey:v1:ws_1:keyspaces/api_1/keys/*#update_key"]);
        for action in [
            Action::UpdateKey,
            Action::AddPermissionToKey,
            Action::RemovePermissionFromKey,
            Action::AddRoleToKey,
            Action::RemoveRoleFromKey,
        ] {
            assert!(urn.allows("ws_1", action, &KEY), "{action}");
        }
        let tuple = grants(&["api.*.update_key"]);
        assert!(tuple.allows("ws_1", Action::UpdateKey, &KEY));
        assert!(!tuple.allows("ws_1", Action::AddPermissionToKey, &KEY));
        assert!(grants(&["rbac.*.add_permission_to_key"]).allows(
            "ws_1",
            Action::AddPermissionToKey,
            &KEY
        ));
        let write = grants(&["unkey:v1:ws_1:projects/*/rbac/permissions/*#write"]);
        assert!(write.allows(
            "ws_1",
            Action::UpdatePermission,
            &Target::Permission("perm_1")
        ));
        assert!(!write.allows("ws_1", Action::UpdateRole, &Target::Role("role_1")));
    }

    #[test]
    fn all_powerful_keys_of_the_first_release_are_upgraded() {
        let first: Vec<String> = Action::ALL
            .iter()
            .filter(|a| !ADDED_SINCE_FIRST_RELEASE.contains(a))
            .map(|a| a.wildcard())
            .collect();
        let mut added = upgrade("ws_1", &first).unwrap();
        added.sort();
        assert_eq!(
            added,
            vec![
                "rootkey.*.update_root_key".to_string(),
                "unkey:v1:ws_1:**#*".to_string()
            ]
        );
        // A workspace's key (without the instance-level tuples) gets no instance-level ones.
        let workspace: Vec<String> = first
            .iter()
            .filter(|p| !p.starts_with("workspace."))
            .cloned()
            .collect();
        let added = upgrade("ws_1", &workspace).unwrap();
        assert!(
            added.iter().all(|p| !p.starts_with("workspace.")),
            "{added:?}"
        );
        // Lacking one tuple of the first release: not all-powerful, left alone.
        assert_eq!(upgrade("ws_1", &workspace[1..]), None);
        // Already current: nothing to add.
        assert_eq!(upgrade("ws_1", &all_powerful("ws_1", true)), None);
    }

    #[test]
    fn the_pattern_agrees_with_the_parser() {
        let pattern = pattern();
        // A crude but sufficient check without a regex engine: every accepted example is built
        // from pieces the pattern names.
        for accepted in ["api.*.verify_key", "rootkey.*.update_root_key"] {
            assert!(check(accepted).is_ok());
            let (resource, action) = (
                accepted.split('.').next().unwrap(),
                accepted.rsplit('.').next().unwrap(),
            );
            assert!(
                pattern.contains(resource) && pattern.contains(action),
                "{accepted}"
            );
        }
        assert!(pattern.starts_with("^(?:") && pattern.ends_with(")$"));
    }

    #[test]
    fn wildcards_cover_the_catalog() {
        let all = all_wildcards(true);
        assert!(all.contains(&"workspace.*.create_workspace".to_string()));
        assert!(!all_wildcards(false).contains(&"workspace.*.create_workspace".to_string()));
        assert!(all.iter().all(|p| check(p).is_ok()));
        assert_eq!(all.len(), Action::ALL.len());
    }
}
