//! Group commit under failures: a store that fails its Nth commit, and the
//! real writer refusing to nest a transaction.

use std::collections::HashSet;
use std::sync::Mutex;

use sqlx::Connection;

use super::*;

fn event(id: &str) -> NewEvent {
    NewEvent {
        account: "a".into(),
        event_id: id.into(),
        event_type: "t".into(),
        livemode: false,
        connect_account: None,
        api_version: None,
        created: 1,
        received_at_ms: 1,
        payload: "{}".into(),
    }
}

/// A store whose Nth commit fails the way a full disk's did: the failure
/// poisons its connection, and until the connection is reset every later
/// "commit" answers Ok while storing nothing (the driver's SAVEPOINT
/// inside a transaction that never commits).
#[derive(Default)]
struct FailNthCommit {
    fail_at: usize,
    commits: usize,
    poisoned: bool,
    resets: usize,
    stored: Arc<Mutex<HashSet<String>>>,
}

#[async_trait]
impl BatchInsert for FailNthCommit {
    async fn insert_batch(&mut self, events: &[NewEvent]) -> Result<InsertedRows, sqlx::Error> {
        self.commits += 1;
        if self.commits == self.fail_at {
            self.poisoned = true;
            return Err(sqlx::Error::Protocol("database or disk is full".into()));
        }
        let mut inserted = InsertedRows::new();
        for (seq, event) in events.iter().enumerate() {
            if !self.poisoned {
                self.stored.lock().unwrap().insert(event.event_id.clone());
            }
            inserted.insert((event.account.clone(), event.event_id.clone()), seq as i64);
        }
        Ok(inserted)
    }

    async fn record_routing(
        &mut self,
        _: &[crate::store::Routed],
        _: i64,
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }

    async fn mark_sent(&mut self, _: &[Sent]) -> Result<(), sqlx::Error> {
        Ok(())
    }

    async fn probe(&mut self, _: i64) -> Result<(), sqlx::Error> {
        if self.poisoned {
            return Err(sqlx::Error::Protocol("still failing".into()));
        }
        Ok(())
    }

    async fn reset(&mut self) {
        self.resets += 1;
        self.poisoned = false;
    }
}

#[tokio::test]
async fn a_failed_commit_is_refused_and_nothing_acknowledged_is_lost() {
    for fail_at in [1, 2, 5] {
        let stored = Arc::new(Mutex::new(HashSet::new()));
        let writer = GroupCommit::spawn(FailNthCommit {
            fail_at,
            stored: stored.clone(),
            ..FailNthCommit::default()
        });
        let (mut acknowledged, mut refused) = (Vec::new(), 0);
        for n in 0..20 {
            let id = format!("evt_{n}");
            match writer.insert(event(&id)).await {
                Ok(Inserted::New { .. }) => acknowledged.push(id),
                Ok(Inserted::Duplicate) => panic!("no duplicates were sent"),
                Err(StoreError::BatchFailed { .. }) => {
                    refused += 1;
                    // The failure is remembered until a write commits again.
                    assert!(!writer.is_writable());
                    writer.probe(1).await.unwrap();
                    assert!(writer.is_writable(), "the probe committed after the reset");
                }
                Err(other) => panic!("unexpected {other}"),
            }
        }
        assert_eq!(refused, 1, "exactly the failed commit is refused");
        let stored = stored.lock().unwrap();
        let lost: Vec<&String> = acknowledged
            .iter()
            .filter(|id| !stored.contains(*id))
            .collect();
        assert!(
            lost.is_empty(),
            "fail at {fail_at}: acknowledged but not stored: {lost:?}"
        );
        assert_eq!(acknowledged.len(), 19, "recovery without a restart");
    }
}

/// The real writer refuses to open a transaction inside one it did not
/// finish (no silent SAVEPOINT), and notices a COMMIT that left one open.
#[tokio::test]
async fn the_writer_never_nests_a_transaction() {
    use std::str::FromStr;

    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
    let dir = tempfile::tempdir().unwrap();
    let options =
        SqliteConnectOptions::from_str(&format!("sqlite://{}", dir.path().join("w.db").display()))
            .unwrap()
            .create_if_missing(true);
    let conn = SqliteConnection::connect_with(&options).await.unwrap();
    let mut writer = Writer::new(conn, options, "BEGIN IMMEDIATE");
    let tx = writer.begin_write().await.unwrap();
    // A transaction the driver still believes open (as after a failed COMMIT).
    std::mem::forget(tx);
    assert!(
        writer.committed().is_err(),
        "an open transaction is noticed"
    );
    assert!(
        writer.begin_write().await.is_err(),
        "a nested BEGIN is refused, not turned into a SAVEPOINT"
    );
    writer.discard().await;
    let tx = writer
        .begin_write()
        .await
        .expect("a fresh connection after the reset");
    tx.commit().await.unwrap();
    writer.committed().unwrap();
}

#[test]
fn chunks_use_only_the_fixed_sizes_and_cover_everything() {
    let event = NewEvent {
        account: "a".into(),
        event_id: "evt_1".into(),
        event_type: "t".into(),
        livemode: false,
        connect_account: None,
        api_version: None,
        created: 1,
        received_at_ms: 1,
        payload: "{}".into(),
    };
    for len in [0, 1, 3, 5, 64, 85, 300, 512] {
        let events = vec![event.clone(); len];
        let sizes: Vec<usize> = chunks(&events).map(<[NewEvent]>::len).collect();
        assert_eq!(sizes.iter().sum::<usize>(), len);
        assert!(sizes.iter().all(|s| CHUNK_SIZES.contains(s)), "{sizes:?}");
    }
}
