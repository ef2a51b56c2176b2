//! `keyward db copy`

use clap::Subcommand;

#[derive(Debug, clap::Args)]
pub struct DbArgs {
    #[command(subcommand)]
    pub command: DbCommand,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy every row of keyward's database into another, on either backend: workspaces, APIs,
    /// key hashes, identities, root keys, credit balances, lastUsedAt, audit events and whatever
    /// else the schema holds. Both databases are first brought to this version's schema. The
    /// source is read in one snapshot and the target written in one transaction: a failed copy
    /// leaves the target as it was. Progress goes to stderr; the per-table row counts, checked
    /// against the source, to stdout. Stop keyward (or let it finish its writes) first: writes
    /// made after the snapshot are not copied.
    #[command(after_help = "Examples:
  keyward db copy --from sqlite://./keyward-data/keyward.db --to postgres://keyward@db:5432/keyward
  keyward db copy --from postgres://keyward@db:5432/keyward --to sqlite:///backup/keyward.db
  keyward db copy --from sqlite://old.db --to postgres://keyward@db/keyward --force")]
    Copy(CopyArgs),
}

#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// The database to copy from: sqlite://<path> (which must exist) or postgres://…
    /// Example: sqlite://./keyward-data/keyward.db
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The database to copy into: sqlite://<path> (created if missing) or postgres://… (the
    /// database must exist). Example: postgres://keyward@db.internal:5432/keyward
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Delete every row the target holds before copying. Without it, a target holding any row
    /// is refused. Example: --force
    #[arg(long)]
    pub force: bool,
}
