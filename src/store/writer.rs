//! The one connection that writes, and what `/readyz` knows of it.
//!
//! A failed write never leaves its connection behind: after a failed COMMIT
//! (a full disk answers `SQLITE_FULL`) the driver's idea of the open
//! transaction and the database's can differ. So a [`Writer`] begins every
//! transaction with an explicit BEGIN (which the driver refuses inside
//! another transaction), checks after COMMIT that none is left open, and is
//! reset (its connection closed, a new one opened for the next write) after
//! any failure; [`WriterHealth`] remembers the failure until a write commits.

use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::{Connection, Transaction};

/// The one connection that writes, opened again after any failure.
pub struct Writer<C: Connection> {
    conn: Option<C>,
    options: <C as Connection>::Options,
    begin: &'static str,
}

impl<C: Connection> Writer<C> {
    /// A writer on `conn`, reconnecting with `options`; every transaction
    /// starts with `begin` (`BEGIN IMMEDIATE` for SQLite, `BEGIN` for PostgreSQL).
    pub fn new(conn: C, options: <C as Connection>::Options, begin: &'static str) -> Self {
        Self {
            conn: Some(conn),
            options,
            begin,
        }
    }

    /// Begins a write transaction, connecting first if the last one was reset.
    pub async fn begin_write(&mut self) -> Result<Transaction<'_, C::Database>, sqlx::Error> {
        let begin = self.begin;
        let conn = match &mut self.conn {
            Some(conn) => conn,
            empty => empty.insert(C::connect_with(&self.options).await?),
        };
        conn.begin_with(begin).await
    }

    /// After a COMMIT: an error unless the connection really left its transaction.
    pub fn committed(&self) -> Result<(), sqlx::Error> {
        if self.conn.as_ref().is_some_and(C::is_in_transaction) {
            return Err(sqlx::Error::Protocol(
                "the connection is still in a transaction after COMMIT".to_owned(),
            ));
        }
        Ok(())
    }

    /// Closes the connection; the next write opens a new one.
    pub async fn discard(&mut self) {
        if let Some(conn) = self.conn.take()
            && let Err(error) = conn.close().await
        {
            tracing::debug!(error = %error, "closing the failed writer connection");
        }
    }
}

/// Whether the writer's last write committed; shared with `/readyz`.
#[derive(Debug)]
pub struct WriterHealth {
    writable: AtomicBool,
}

impl WriterHealth {
    /// A writer that has not failed yet.
    pub(super) fn new() -> Self {
        Self {
            writable: AtomicBool::new(true),
        }
    }

    /// Records whether the last write committed.
    pub(super) fn record(&self, committed: bool) {
        let was = self.writable.swap(committed, Ordering::Relaxed);
        if was != committed {
            if committed {
                tracing::info!("the store commits again");
            } else {
                tracing::error!(
                    "the store cannot commit; /readyz answers 503 until a write succeeds"
                );
            }
        }
    }

    /// False from a failed write until the next one that commits.
    pub fn is_writable(&self) -> bool {
        self.writable.load(Ordering::Relaxed)
    }
}
