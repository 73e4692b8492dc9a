//! The key of a series in its family: its label values (or, for families fed by the `metrics`
//! facade, its label names and values), looked up by borrowed strings without allocating.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// An owned series key: the parts, in order.
#[derive(Debug, Clone)]
pub(crate) struct LabelKey(Arc<[Box<str>]>);

impl LabelKey {
    pub(crate) fn new<S: AsRef<str>>(parts: &[S]) -> LabelKey {
        LabelKey(parts.iter().map(|p| Box::from(p.as_ref())).collect())
    }

    pub(crate) fn parts(&self) -> &[Box<str>] {
        &self.0
    }
}

/// What a key is made of, owned or borrowed: hashed and compared part by part.
pub(crate) trait KeyParts {
    fn len(&self) -> usize;
    fn part(&self, i: usize) -> &str;
}

impl KeyParts for LabelKey {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn part(&self, i: usize) -> &str {
        &self.0[i]
    }
}

/// Borrowed parts, for lookups.
pub(crate) struct Parts<'a, S>(pub(crate) &'a [S]);

impl<S: AsRef<str>> KeyParts for Parts<'_, S> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn part(&self, i: usize) -> &str {
        self.0[i].as_ref()
    }
}

impl Hash for dyn KeyParts + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for i in 0..self.len() {
            self.part(i).hash(state);
        }
    }
}

impl PartialEq for dyn KeyParts + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && (0..self.len()).all(|i| self.part(i) == other.part(i))
    }
}

impl Eq for dyn KeyParts + '_ {}

impl Hash for LabelKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self as &dyn KeyParts).hash(state);
    }
}

impl PartialEq for LabelKey {
    fn eq(&self, other: &Self) -> bool {
        (self as &dyn KeyParts) == (other as &dyn KeyParts)
    }
}

impl Eq for LabelKey {}

impl<'a> Borrow<dyn KeyParts + 'a> for LabelKey {
    fn borrow(&self) -> &(dyn KeyParts + 'a) {
        self
    }
}

#[cfg(test)]
mod test {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn borrowed_parts_find_owned_keys() {
        let mut map = HashMap::new();
        map.insert(LabelKey::new(&["a", "b"]), 1);
        map.insert(LabelKey::new(&["ab"]), 2);
        map.insert(LabelKey::new::<&str>(&[]), 3);
        let find = |parts: &[&str]| map.get(&Parts(parts) as &dyn KeyParts).copied();
        assert_eq!(find(&["a", "b"]), Some(1));
        assert_eq!(find(&["ab"]), Some(2));
        assert_eq!(find(&[]), Some(3));
        assert_eq!(find(&["a", "b", ""]), None);
        assert_eq!(find(&["b", "a"]), None);
    }
}
