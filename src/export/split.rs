//! The train/test split: stratified per digit, deterministic for a seed, by
//! sample or by session (a writer's samples all on one side, as MNIST kept
//! its writers apart). No random number generator: every choice follows the
//! order of SHA-256(seed ‖ key), so the same seed and data give the same split
//! and the same order on every machine.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::store::SampleRow;

/// What the split keeps together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitBy {
    /// Each sample goes its own way.
    Sample,
    /// All samples of a session go to the same side; a sample without a
    /// session counts as a session of its own.
    Session,
}

impl SplitBy {
    /// The name used on the command line and in the dataset card.
    pub fn name(self) -> &'static str {
        match self {
            SplitBy::Sample => "sample",
            SplitBy::Session => "session",
        }
    }
}

/// The two sides, each in its export order (a seeded shuffle).
#[derive(Debug, Clone, Default)]
pub struct Split<'a> {
    /// Samples for training.
    pub train: Vec<&'a SampleRow>,
    /// Samples held out for testing.
    pub test: Vec<&'a SampleRow>,
}

struct Group {
    order: [u8; 32],
    key: String,
    members: Vec<usize>,
    per_digit: [i64; 10],
}

/// Splits `rows`: for each digit, `round(fraction × count)` of its samples go
/// to test (exactly so by sample; as near as whole sessions allow by session).
///
/// Groups (samples, or sessions) are visited in seeded-hash order and a group
/// goes to test when that brings the test counts, summed over the digits,
/// closer to their targets.
pub fn split<'a>(rows: &[&'a SampleRow], fraction: f64, seed: u64, by: SplitBy) -> Split<'a> {
    let mut groups: HashMap<String, Group> = HashMap::new();
    let mut per_digit = [0i64; 10];
    for (i, row) in rows.iter().enumerate() {
        let key = match (by, &row.session) {
            (SplitBy::Session, Some(session)) => format!("session:{session}"),
            _ => format!("sample:{}", row.filename),
        };
        let digit = usize::from(row.label);
        if let Some(n) = per_digit.get_mut(digit) {
            *n += 1;
        }
        let group = groups.entry(key).or_insert_with_key(|key| Group {
            order: seeded_hash(seed, "group", key),
            key: key.clone(),
            members: Vec::new(),
            per_digit: [0; 10],
        });
        group.members.push(i);
        if let Some(n) = group.per_digit.get_mut(digit) {
            *n += 1;
        }
    }
    let target = per_digit.map(|n| (fraction * n as f64).round() as i64);

    let mut groups: Vec<Group> = groups.into_values().collect();
    groups.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.key.cmp(&b.key)));
    let mut in_test = [0i64; 10];
    let mut out = Split::default();
    for group in &groups {
        let change: i64 = (0..10)
            .map(|d| {
                let (now, add, want) = (in_test[d], group.per_digit[d], target[d]);
                (now + add - want).abs() - (now - want).abs()
            })
            .sum();
        let to_test = change < 0;
        if to_test {
            for (t, add) in in_test.iter_mut().zip(group.per_digit) {
                *t += add;
            }
        }
        let side = if to_test {
            &mut out.test
        } else {
            &mut out.train
        };
        side.extend(group.members.iter().filter_map(|&i| rows.get(i).copied()));
    }
    for side in [&mut out.train, &mut out.test] {
        side.sort_by_cached_key(|row| (seeded_hash(seed, "order", &row.filename), row.id));
    }
    out
}

/// SHA-256 of the seed (little-endian), a domain tag and a key.
fn seeded_hash(seed: u64, domain: &str, key: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(domain.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, label: u8, session: Option<&str>) -> SampleRow {
        SampleRow {
            id,
            filename: format!("digit_{label}_{id}.png"),
            label,
            timestamp: "2025-01-01 00:00:00.000000".into(),
            ip: "127.0.0.1".into(),
            source: "window".into(),
            session: session.map(str::to_string),
            station: None,
            strokes: None,
            sha256: None,
        }
    }

    #[test]
    fn by_sample_takes_exactly_the_rounded_share_of_each_digit() {
        let rows: Vec<SampleRow> = (0..137).map(|i| row(i, (i % 10) as u8, None)).collect();
        let refs: Vec<&SampleRow> = rows.iter().collect();
        let s = split(&refs, 0.25, 7, SplitBy::Sample);
        for d in 0..10u8 {
            let n = rows.iter().filter(|r| r.label == d).count() as f64;
            let t = s.test.iter().filter(|r| r.label == d).count() as f64;
            assert_eq!(t, (n * 0.25).round(), "digit {d}");
        }
        assert_eq!(s.train.len() + s.test.len(), 137);
        let all = split(&refs, 1.0, 7, SplitBy::Sample);
        assert!(all.train.is_empty());
        let none = split(&refs, 0.0, 7, SplitBy::Sample);
        assert!(none.test.is_empty());
    }

    #[test]
    fn by_session_keeps_sessions_whole() {
        let rows: Vec<SampleRow> = (0..400)
            .map(|i| row(i, (i % 10) as u8, if i % 7 == 0 { None } else { Some("s") }))
            .collect();
        let rows: Vec<SampleRow> = rows
            .into_iter()
            .map(|mut r| {
                r.session = r.session.map(|_| format!("s{}", r.id / 20));
                r
            })
            .collect();
        let refs: Vec<&SampleRow> = rows.iter().collect();
        let s = split(&refs, 0.2, 3, SplitBy::Session);
        for t in &s.test {
            if let Some(sess) = &t.session {
                assert!(s.train.iter().all(|r| r.session.as_ref() != Some(sess)));
            }
        }
        assert!((60..=100).contains(&s.test.len()), "{}", s.test.len());
    }
}
