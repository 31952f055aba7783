//! Key paths in `bot.toml` and the line each one stands on.
//!
//! Every configuration error names the key it is about (`stripe.accounts.eu.tolerance`)
//! and, where the TOML text can tell, the line. Lines come from the spans that
//! `toml_edit` keeps while parsing; nothing here changes the document.

use std::fmt;
use std::ops::Range;

use toml_edit::{ImDocument, Item, Value};

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A key in a table (`server`, `listen`).
    Key(String),
    /// A position in an array (`webhook_secrets[1]`).
    Index(usize),
}

/// The path of a key in `bot.toml`, printed the way an admin would write it:
/// `stripe.accounts.eu.webhook_secrets[1]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(Vec<Segment>);

impl KeyPath {
    /// The path of the document root.
    pub fn root() -> Self {
        Self::default()
    }

    /// This path extended by a table key.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.into()));
        Self(segments)
    }

    /// This path extended by an array index.
    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        Self(segments)
    }

    /// The segments, root first.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// Converts the path that `serde_ignored` reports for an unknown key.
    pub fn from_ignored(path: &serde_ignored::Path<'_>) -> Self {
        match path {
            serde_ignored::Path::Root => Self::root(),
            serde_ignored::Path::Seq { parent, index } => Self::from_ignored(parent).index(*index),
            serde_ignored::Path::Map { parent, key } => Self::from_ignored(parent).key(key.clone()),
            serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => Self::from_ignored(parent),
        }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if position == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// The parsed text of a config file, kept to map key paths and byte offsets to lines.
pub struct SourceMap {
    text: String,
    document: Option<ImDocument<String>>,
}

impl SourceMap {
    /// Indexes `text`. A text that is not valid TOML still maps offsets to lines.
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            document: ImDocument::parse(text.to_owned()).ok(),
        }
    }

    /// The 1-based line of a byte offset.
    pub fn line_of_offset(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    /// The 1-based line where `path` is written, or where its nearest written
    /// parent is when the key itself is missing.
    pub fn line_of(&self, path: &KeyPath) -> Option<usize> {
        let document = self.document.as_ref()?;
        let mut node = Node::Item(document.as_item());
        let mut best: Option<Range<usize>> = None;
        for segment in path.segments() {
            let (next, own_span) = match (segment, node) {
                (Segment::Key(key), Node::Item(Item::Table(table))) => (
                    table.get(key).map(Node::Item),
                    table.key(key).and_then(|k| k.span()),
                ),
                (Segment::Key(key), Node::Item(Item::Value(Value::InlineTable(table))))
                | (Segment::Key(key), Node::Value(Value::InlineTable(table))) => (
                    table.get(key).map(Node::Value),
                    table.key(key).and_then(|k| k.span()),
                ),
                (Segment::Index(index), Node::Item(Item::ArrayOfTables(tables))) => {
                    let table = tables.get(*index);
                    (None, table.and_then(|t| t.span()))
                }
                (Segment::Index(index), Node::Item(Item::Value(Value::Array(array))))
                | (Segment::Index(index), Node::Value(Value::Array(array))) => {
                    let element = array.get(*index);
                    (element.map(Node::Value), element.and_then(Value::span))
                }
                _ => (None, None),
            };
            let span = own_span.or_else(|| next.and_then(Node::span));
            if span.is_some() {
                best = span;
            }
            match next {
                Some(next) => node = next,
                None => break,
            }
        }
        best.map(|span| self.line_of_offset(span.start))
    }

    /// The deepest key path whose value covers `offset`: where a type error is.
    pub fn path_at(&self, offset: usize) -> Option<KeyPath> {
        let document = self.document.as_ref()?;
        let mut found = None;
        walk(document.as_item(), KeyPath::root(), offset, &mut found);
        found
    }
}

/// A place in the document: a full item (table, value) or a value inside an inline table or array.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Value(&'a Value),
}

impl Node<'_> {
    fn span(self) -> Option<Range<usize>> {
        match self {
            Node::Item(item) => item.span(),
            Node::Value(value) => value.span(),
        }
    }
}

fn walk(item: &Item, path: KeyPath, offset: usize, found: &mut Option<KeyPath>) {
    let covers = |span: Option<Range<usize>>| {
        span.is_some_and(|s| s.start <= offset && offset < s.end.max(s.start + 1))
    };
    match item {
        Item::Table(table) => {
            for (key, child) in table.iter() {
                let child_path = path.key(key);
                let key_span = table.key(key).and_then(|k| k.span());
                if covers(child.span()) || covers(key_span) {
                    *found = Some(child_path.clone());
                }
                walk(child, child_path, offset, found);
            }
        }
        Item::ArrayOfTables(tables) => {
            for (index, table) in tables.iter().enumerate() {
                let child_path = path.index(index);
                walk(&Item::Table(table.clone()), child_path, offset, found);
            }
        }
        Item::Value(Value::InlineTable(table)) => {
            for (key, child) in table.iter() {
                let child_path = path.key(key);
                if covers(child.span()) {
                    *found = Some(child_path.clone());
                }
                walk(&Item::Value(child.clone()), child_path, offset, found);
            }
        }
        Item::Value(Value::Array(array)) => {
            for (index, child) in array.iter().enumerate() {
                if covers(child.span()) {
                    *found = Some(path.index(index));
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[server]\nlisten = \"x\"\n\n[stripe]\nwebhook_secrets = [\n  \"a\",\n  \"b\",\n]\n[stripe.accounts.eu]\ntolerance = \"1m\"\n";

    #[test]
    fn prints_paths_as_written() {
        let path = KeyPath::root()
            .key("stripe")
            .key("webhook_secrets")
            .index(1);
        assert_eq!(path.to_string(), "stripe.webhook_secrets[1]");
    }

    #[test]
    fn finds_lines_of_keys_and_array_elements() {
        let map = SourceMap::new(TEXT);
        assert_eq!(
            map.line_of(&KeyPath::root().key("server").key("listen")),
            Some(2)
        );
        let second = KeyPath::root()
            .key("stripe")
            .key("webhook_secrets")
            .index(1);
        assert_eq!(map.line_of(&second), Some(7));
        let tolerance = KeyPath::root()
            .key("stripe")
            .key("accounts")
            .key("eu")
            .key("tolerance");
        assert_eq!(map.line_of(&tolerance), Some(10));
    }

    #[test]
    fn missing_key_points_at_its_parent() {
        let map = SourceMap::new(TEXT);
        let missing = KeyPath::root()
            .key("stripe")
            .key("accounts")
            .key("eu")
            .key("webhook_secrets");
        assert_eq!(map.line_of(&missing), Some(9));
    }

    #[test]
    fn finds_the_key_under_an_offset() {
        let map = SourceMap::new(TEXT);
        let offset = TEXT.find("\"1m\"").unwrap();
        let path = map.path_at(offset).unwrap();
        assert_eq!(path.to_string(), "stripe.accounts.eu.tolerance");
    }
}
