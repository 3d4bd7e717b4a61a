//! Maps whose keys must be unique. serde_yaml hands a `BTreeMap` every entry and the last of
//! two equal keys silently wins, so a stage file naming `disconnect` twice under
//! `functions.overrides` would lose the first block without a word.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, Error, MapAccess, Visitor};

/// The message of a repeated key; `super::parse_error` finds the second one's line from it.
pub(super) const DUPLICATE: &str = "duplicate key";

/// Deserializes a map, refusing a key given twice.
pub(super) fn map<'de, D, K, V>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord + fmt::Display,
    V: Deserialize<'de>,
{
    struct Unique<K, V>(PhantomData<(K, V)>);

    impl<'de, K, V> Visitor<'de> for Unique<K, V>
    where
        K: Deserialize<'de> + Ord + fmt::Display,
        V: Deserialize<'de>,
    {
        type Value = BTreeMap<K, V>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a mapping")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            let mut map = BTreeMap::new();
            while let Some((key, value)) = access.next_entry::<K, V>()? {
                let shown = key.to_string();
                if map.insert(key, value).is_some() {
                    return Err(A::Error::custom(format!(
                        "{DUPLICATE} `{shown}`: each key may appear once (the second would \
                         silently replace the first)"
                    )));
                }
            }
            Ok(map)
        }
    }

    deserializer.deserialize_map(Unique(PhantomData))
}
