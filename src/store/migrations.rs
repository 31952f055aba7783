//! Schema migrations, embedded in the binary, one list per backend.
//!
//! They run through sqlx's `Migrator` (which records them in
//! `_sqlx_migrations` and, on PostgreSQL, takes an advisory lock so that two
//! replicas starting together do not race). The SQL files are included at
//! compile time rather than through `sqlx::migrate!`, which would pull in
//! sqlx's macro crates and compile the drivers a second time.

use std::borrow::Cow;

use futures_core::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// Migrations of the SQLite schema: (version, description, SQL).
pub const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "events",
        include_str!("../../migrations/sqlite/0001_events.sql"),
    ),
    (
        2,
        "deliveries",
        include_str!("../../migrations/sqlite/0002_deliveries.sql"),
    ),
    (
        3,
        "outbox",
        include_str!("../../migrations/sqlite/0003_outbox.sql"),
    ),
    (
        4,
        "interactions",
        include_str!("../../migrations/sqlite/0004_interactions.sql"),
    ),
    (
        5,
        "writer_health",
        include_str!("../../migrations/sqlite/0005_writer_health.sql"),
    ),
    (
        6,
        "cases",
        include_str!("../../migrations/sqlite/0006_cases.sql"),
    ),
    (
        7,
        "stripe_cursors",
        include_str!("../../migrations/sqlite/0007_stripe_cursors.sql"),
    ),
    (
        8,
        "schedule",
        include_str!("../../migrations/sqlite/0008_schedule.sql"),
    ),
    (
        9,
        "payment_requests",
        include_str!("../../migrations/sqlite/0009_payment_requests.sql"),
    ),
];

/// Migrations of the PostgreSQL schema: (version, description, SQL).
pub const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "events",
        include_str!("../../migrations/postgres/0001_events.sql"),
    ),
    (
        2,
        "deliveries",
        include_str!("../../migrations/postgres/0002_deliveries.sql"),
    ),
    (
        3,
        "outbox",
        include_str!("../../migrations/postgres/0003_outbox.sql"),
    ),
    (
        4,
        "interactions",
        include_str!("../../migrations/postgres/0004_interactions.sql"),
    ),
    (
        5,
        "writer_health",
        include_str!("../../migrations/postgres/0005_writer_health.sql"),
    ),
    (
        6,
        "cases",
        include_str!("../../migrations/postgres/0006_cases.sql"),
    ),
    (
        7,
        "stripe_cursors",
        include_str!("../../migrations/postgres/0007_stripe_cursors.sql"),
    ),
    (
        8,
        "schedule",
        include_str!("../../migrations/postgres/0008_schedule.sql"),
    ),
    (
        9,
        "payment_requests",
        include_str!("../../migrations/postgres/0009_payment_requests.sql"),
    ),
];

/// A migration list compiled into the binary.
#[derive(Debug, Clone, Copy)]
pub struct Embedded(pub &'static [(i64, &'static str, &'static str)]);

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// The migrator of a list.
pub async fn migrator(
    list: &'static [(i64, &'static str, &'static str)],
) -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Embedded(list)).await
}
