//! Timestamps on the wire: RFC 3339, UTC, whole seconds, `Z` suffix (`2025-01-15T10:30:00Z`).
//!
//! Python 3.8–3.10's `datetime.fromisoformat` rejects fractional seconds of other lengths, and the SDK
//! does not catch that error while creating a sandbox (CONTRACT.md §1.2), so every timestamp Warren
//! emits goes through [`format()`] or the serde helpers here.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// Formats `t` as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `#[serde(with = "api_types::timestamp")]` for `DateTime<Utc>` fields.
pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(t))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(d)?;
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(serde::de::Error::custom)
}

/// `#[serde(with = "api_types::timestamp::option")]` for `Option<DateTime<Utc>>` fields.
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| {
                DateTime::parse_from_rfc3339(&s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    #[test]
    fn whole_seconds_with_z() {
        let t = chrono::Utc
            .timestamp_millis_opt(1_736_937_000_123)
            .single()
            .unwrap();
        assert_eq!(super::format(&t), "2025-01-15T10:30:00Z");
    }
}
