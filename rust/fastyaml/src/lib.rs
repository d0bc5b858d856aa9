//! Build plain Python data and the line/column of every mapping key and sequence item
//! straight from a YAML event stream, without node objects.
//!
//! This is the fast path of `edgewise.spec.yamlsource`: it handles the YAML that
//! Kubernetes manifests are made of (block and flow collections, plain and quoted
//! scalars) and gives up — returning `None` so that the caller reads the text with PyYAML
//! as before — on anything else: anchors, aliases, tags, merge keys, duplicate keys,
//! non-string keys, block scalars, nesting deeper than the caller's limit, text PyYAML
//! (YAML 1.1) and this parser (YAML 1.2) may read differently, or any parse error. Plain
//! scalars that may be something other than a string under YAML 1.1 (their first
//! character is one PyYAML's implicit resolvers key on) are typed by a callback into
//! PyYAML's own resolver and constructor, so `yes`, `0o17`, `1_000` or `2024-01-01`
//! become exactly what `yaml.safe_load` makes of them.
//!
//! Reading happens in two steps. The parse ([`parse`]) needs no Python: it turns the
//! text into a flat list of nodes and runs without the GIL, on another thread when
//! files are read ahead ([`Prefetch`]). It reads block YAML line by line first
//! ([`block`], several times faster) and leaves anything that path is unsure of to
//! yaml-rust2's event parser ([`general`]); both make the same nodes. Literal block
//! scalars only the line reader takes (the event parser marks them elsewhere than PyYAML). The build ([`Build`]) makes the Python objects
//! from those nodes under the GIL. Positions are not made into Python objects at all:
//! [`Positions`] keeps them in one array per document, in document order, and answers
//! a path's position when asked (only findings need one).
//!
//! The same extension holds the compiled walker of the YAML writer, `edgewise.yamlout`
//! ([`emit`]).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

mod block;
mod emit;

/// The text or its structure is something this reader leaves to PyYAML.
struct Unsupported;

/// Why the build gave up (the caller then uses PyYAML).
enum GiveUp {
    Unsupported,
    Python(PyErr),
}

impl From<PyErr> for GiveUp {
    fn from(e: PyErr) -> Self {
        GiveUp::Python(e)
    }
}

type R<T> = Result<T, GiveUp>;

/// Characters no plain scalar begins with in PyYAML's reading
const PLAIN_NEVER_STARTS: &str = "|>%@`!&*#'\"[]{},";
/// ... and these only outside flow collections (before a non-space, as the parser saw)
const PLAIN_BLOCK_ONLY_STARTS: &str = "?:";

/// Text left to PyYAML whole: backslash escapes and tabs (YAML 1.1 and 1.2 read some
/// differently), carriage returns, the YAML 1.1-only line breaks (NEL, U+2028, U+2029), a
/// byte order mark, characters YAML does not allow; and lines the two parsers read
/// differently: directives (`%`) and document ends (`...`) at a line start.
fn slow_text(text: &str) -> bool {
    let slow_char = |c: char| {
        matches!(c, '\\' | '\t' | '\r' | '\x00'..='\x08' | '\x0b' | '\x0c' | '\x0e'..='\x1f' | '\x7f'..='\u{9f}'
                 | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}')
    };
    let slow = if text.is_ascii() {
        text.bytes().any(|b| slow_char(b as char))
    } else {
        text.chars().any(slow_char)
    };
    slow || text.starts_with('%') || text.starts_with("...") || text.contains("\n%") || text.contains("\n...")
}

// ---------------------------------------------------------------------------------------
// The parse: text -> nodes, without Python
// ---------------------------------------------------------------------------------------

enum Kind {
    /// a str whatever PyYAML's resolvers say (quoted, or plain not starting with a
    /// character any resolver keys on)
    Str(String),
    /// a plain scalar PyYAML's resolvers may type
    Plain(String),
    /// a sequence of this many items (the nodes that follow)
    Seq(u32),
    /// a mapping of this many pairs (key node, value node, ... follow)
    Map(u32),
}

/// A node and where PyYAML's composer says it starts (1-based line and column): a
/// block mapping at its first key, anything else where its first event is.
struct Node {
    kind: Kind,
    line: u32,
    col: u32,
}

struct ParsedDoc {
    /// the document's root is an empty plain scalar (no content at all)
    empty: bool,
    /// the root and everything under it, in document order
    nodes: Vec<Node>,
}

struct Parse<'a> {
    parser: Parser<std::str::Chars<'a>>,
    /// the text, to tell a flow collection (`[`, `{` where it starts) from a block one
    text: &'a str,
    ascii: bool,
    /// (char index, byte index) of the last look-up in a non-ASCII text (marks count chars)
    cursor: (usize, usize),
    resolve_first: &'a [char],
    max_depth: usize,
    /// how many flow collections enclose the node being read
    flow_depth: usize,
    nodes: Vec<Node>,
}

fn at(mark: &Marker) -> (u32, u32) {
    (mark.line() as u32, (mark.col() + 1) as u32)
}

impl<'a> Parse<'a> {
    fn next(&mut self) -> Result<(Event, Marker), Unsupported> {
        self.parser.next_token().map_err(|_| Unsupported)
    }

    /// Whether the collection starting at `mark` is a flow one (`[...]`, `{...}`).
    fn is_flow(&mut self, mark: &Marker) -> bool {
        let index = mark.index();
        let at = if self.ascii {
            self.text.as_bytes().get(index).map(|b| *b as char)
        } else {
            if index < self.cursor.0 {
                self.cursor = (0, 0);
            }
            let (mut ci, mut bi) = self.cursor;
            let mut chars = self.text[bi..].chars();
            let mut found = None;
            while let Some(c) = chars.next() {
                if ci == index {
                    found = Some(c);
                    break;
                }
                ci += 1;
                bi += c.len_utf8();
            }
            self.cursor = (ci, bi);
            found
        };
        matches!(at, Some('[') | Some('{'))
    }

    /// A flow collection over several lines: PyYAML (YAML 1.1) and this parser (1.2)
    /// read line starts inside it differently (`- `, `---`, `...`, indentation), so such
    /// texts are left to PyYAML; the files plan writes have none.
    fn flow_over_lines(flow: bool, start: &Marker, end: &Marker) -> Result<(), Unsupported> {
        if flow && end.line() != start.line() {
            return Err(Unsupported);
        }
        Ok(())
    }

    /// A scalar's node kind.
    fn scalar(&self, value: String, style: TScalarStyle) -> Result<Kind, Unsupported> {
        match style {
            TScalarStyle::Plain => {
                let first = value.chars().next();
                // PyYAML's scanner starts no plain scalar with an indicator (its check_plain:
                // `-` only before a non-space, `?` and `:` only so and outside flow context);
                // yaml-rust2 (YAML 1.2) takes some of them, e.g. `{|}` or `[>:a]`, where PyYAML
                // reports an error: leave every such text to PyYAML
                if let Some(c) = first {
                    if PLAIN_NEVER_STARTS.contains(c) || (self.flow_depth > 0 && PLAIN_BLOCK_ONLY_STARTS.contains(c)) {
                        return Err(Unsupported);
                    }
                }
                let needs = match first {
                    None => true,
                    Some(c) => self.resolve_first.contains(&c),
                };
                Ok(if needs { Kind::Plain(value) } else { Kind::Str(value) })
            }
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => Ok(Kind::Str(value)),
            // block scalars: this parser marks their content, PyYAML their indicator
            _ => Err(Unsupported),
        }
    }

    /// Push the node that starts with `ev` at `mark` (and everything under it); its start.
    fn value(&mut self, ev: Event, mark: Marker, depth: usize) -> Result<Marker, Unsupported> {
        match ev {
            Event::Scalar(v, style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    return Err(Unsupported);
                }
                let kind = self.scalar(v, style)?;
                let (line, col) = at(&mark);
                self.nodes.push(Node { kind, line, col });
                Ok(mark)
            }
            Event::SequenceStart(anchor, tag) => {
                if anchor != 0 || tag.is_some() || depth >= self.max_depth {
                    return Err(Unsupported);
                }
                let flow = self.is_flow(&mark);
                self.flow_depth += usize::from(flow);
                let me = self.nodes.len();
                let (line, col) = at(&mark);
                self.nodes.push(Node { kind: Kind::Seq(0), line, col });
                let mut n: u32 = 0;
                loop {
                    let (ev, item_mark) = self.next()?;
                    match &ev {
                        Event::SequenceEnd => {
                            Self::flow_over_lines(flow, &mark, &item_mark)?;
                            break;
                        }
                        // an empty item: PyYAML marks it where the "-" ends, this parser elsewhere
                        Event::Scalar(v, TScalarStyle::Plain, _, _) if v.is_empty() => return Err(Unsupported),
                        _ => {}
                    }
                    self.value(ev, item_mark, depth + 1)?;
                    n += 1;
                }
                self.nodes[me].kind = Kind::Seq(n);
                self.flow_depth -= usize::from(flow);
                Ok(mark)
            }
            Event::MappingStart(anchor, tag) => {
                if anchor != 0 || tag.is_some() || depth >= self.max_depth {
                    return Err(Unsupported);
                }
                let flow = self.is_flow(&mark);
                self.flow_depth += usize::from(flow);
                let me = self.nodes.len();
                self.nodes.push(Node { kind: Kind::Map(0), line: 0, col: 0 });
                let mut start = mark;
                let mut first = true;
                let mut n: u32 = 0;
                loop {
                    let (ev, kmark) = self.next()?;
                    if first && kmark.index() <= start.index() && !matches!(ev, Event::MappingEnd) {
                        start = kmark; // a block mapping: it starts at its first key
                    }
                    first = false;
                    match ev {
                        Event::MappingEnd => {
                            Self::flow_over_lines(flow, &mark, &kmark)?;
                            break;
                        }
                        Event::Scalar(v, style, anchor, tag) => {
                            if anchor != 0 || tag.is_some() || (style == TScalarStyle::Plain && v == "<<") {
                                return Err(Unsupported);
                            }
                            let kind = self.scalar(v, style)?;
                            let (line, col) = at(&kmark);
                            self.nodes.push(Node { kind, line, col });
                        }
                        _ => return Err(Unsupported),
                    }
                    let (ev, vmark) = self.next()?;
                    self.value(ev, vmark, depth + 1)?;
                    n += 1;
                }
                let (line, col) = at(&start);
                self.nodes[me] = Node { kind: Kind::Map(n), line, col };
                self.flow_depth -= usize::from(flow);
                Ok(start)
            }
            _ => Err(Unsupported),
        }
    }

    fn documents(&mut self) -> Result<Vec<ParsedDoc>, Unsupported> {
        let mut docs = Vec::new();
        loop {
            let (ev, _) = self.next()?;
            match ev {
                Event::StreamStart | Event::DocumentEnd => continue,
                Event::StreamEnd => break,
                Event::DocumentStart => {
                    let (root, mark) = self.next()?;
                    let empty = matches!(&root, Event::Scalar(v, TScalarStyle::Plain, 0, None) if v.is_empty());
                    self.nodes = Vec::new();
                    self.value(root, mark, 0)?;
                    docs.push(ParsedDoc { empty, nodes: std::mem::take(&mut self.nodes) });
                }
                _ => return Err(Unsupported),
            }
        }
        Ok(docs)
    }
}

/// The documents of `text` as nodes, or Unsupported for text left to PyYAML.
fn parse(text: &str, resolve_first: &[char], max_depth: usize) -> Result<Vec<ParsedDoc>, Unsupported> {
    if slow_text(text) {
        return Err(Unsupported);
    }
    if let Some(docs) = block::parse(text, resolve_first, max_depth) {
        return Ok(docs);
    }
    general(text, resolve_first, max_depth)
}

/// [`parse`] by yaml-rust2 alone (what [`block::parse`] leaves to it).
fn general(text: &str, resolve_first: &[char], max_depth: usize) -> Result<Vec<ParsedDoc>, Unsupported> {
    Parse {
        parser: Parser::new_from_str(text),
        text,
        ascii: text.is_ascii(),
        cursor: (0, 0),
        resolve_first,
        max_depth,
        flow_depth: 0,
        nodes: Vec::new(),
    }
    .documents()
}

// ---------------------------------------------------------------------------------------
// Positions: one array per document, looked up by path
// ---------------------------------------------------------------------------------------

const LEAF: u8 = 0;
const MAP: u8 = 1;
const SEQ: u8 = 2;

/// One position: the document's root, a mapping key or a sequence item. Entries are in
/// document order; `size` counts this entry and every entry under it, so the next
/// sibling is `size` entries on.
struct Entry {
    line: u32,
    col: u32,
    size: u32,
    /// what the key or item holds (LEAF, MAP, SEQ)
    kind: u8,
    /// the mapping key (None for a sequence item and for the root)
    key: Option<Py<PyString>>,
}

/// The line/column of every mapping key and sequence item of one document, and of its
/// root: what a dict from path tuples to (line, column) would hold, without the dict.
#[pyclass(frozen, module = "edgewise._fastyaml")]
struct Positions {
    entries: Box<[Entry]>,
}

/// The sequence index a path element stands for, as a dict of int keys would match it
/// (ints, bools and objects with `__index__`, and floats of integral value).
fn index_of(p: &Bound<'_, PyAny>) -> Option<i64> {
    if p.is_instance_of::<PyString>() {
        return None;
    }
    if let Ok(i) = p.extract::<i64>() {
        return Some(i);
    }
    if let Ok(f) = p.downcast::<PyFloat>() {
        let v = f.value();
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            return Some(v as i64);
        }
    }
    None
}

#[pymethods]
impl Positions {
    /// (line, column) of the deepest entry along `path`: `path` itself when it is a key
    /// or item of the document, else its closest ancestor that is, else the root.
    fn closest(&self, path: &Bound<'_, PyTuple>) -> PyResult<(u32, u32)> {
        let entries = &self.entries;
        let mut cur = 0usize;
        'path: for p in path.iter() {
            let e = &entries[cur];
            let end = cur + e.size as usize;
            let mut child = cur + 1;
            match e.kind {
                MAP => {
                    let Ok(s) = p.downcast::<PyString>() else { break };
                    let Ok(s) = s.to_str() else { break };
                    while child < end {
                        let c = &entries[child];
                        if let Some(k) = &c.key {
                            if k.bind(path.py()).to_str()? == s {
                                cur = child;
                                continue 'path;
                            }
                        }
                        child += c.size as usize;
                    }
                    break;
                }
                SEQ => {
                    let Some(want) = index_of(&p) else { break };
                    let mut i: i64 = 0;
                    while child < end {
                        if i == want {
                            cur = child;
                            continue 'path;
                        }
                        i += 1;
                        child += entries[child].size as usize;
                    }
                    break;
                }
                _ => break,
            }
        }
        Ok((entries[cur].line, entries[cur].col))
    }

    /// Every position as a dict from path tuples to (line, column), as the PyYAML path
    /// records them.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        let mut path: Vec<PyObject> = Vec::new();
        self.fill(py, &out, &mut path, 0)?;
        Ok(out)
    }

    fn __len__(&self) -> usize {
        self.entries.len()
    }
}

impl Positions {
    fn fill(&self, py: Python<'_>, out: &Bound<'_, PyDict>, path: &mut Vec<PyObject>, at: usize) -> PyResult<()> {
        let e = &self.entries[at];
        out.set_item(PyTuple::new(py, path.iter())?, (e.line, e.col))?;
        let end = at + e.size as usize;
        let mut child = at + 1;
        let mut i: usize = 0;
        while child < end {
            let c = &self.entries[child];
            let step = if e.kind == MAP {
                c.key.as_ref().map(|k| k.clone_ref(py).into_any()).unwrap_or_else(|| py.None())
            } else {
                i.into_py_any(py)?
            };
            path.push(step);
            self.fill(py, out, path, child)?;
            path.pop();
            child += c.size as usize;
            i += 1;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The build: nodes -> Python objects, under the GIL
// ---------------------------------------------------------------------------------------

struct Build<'py, 'c> {
    py: Python<'py>,
    resolve: &'c Bound<'py, PyAny>,
    /// what the resolver made of each plain scalar it typed, and the str of each key
    /// (one object per distinct text; kept across the files of a [`Prefetch`])
    made: &'c mut Made,
    entries: Vec<Entry>,
}

fn kind_of(node: &Node) -> u8 {
    match node.kind {
        Kind::Map(_) => MAP,
        Kind::Seq(_) => SEQ,
        _ => LEAF,
    }
}

impl<'py, 'c> Build<'py, 'c> {
    /// A plain scalar PyYAML may type: through the caller's resolver, once per text.
    fn resolved(&mut self, value: String) -> R<PyObject> {
        if let Some(hit) = self.made.resolved.get(&value) {
            return Ok(hit.clone_ref(self.py));
        }
        let out = self.resolve.call1((value.as_str(),))?.unbind();
        self.made.resolved.insert(value, out.clone_ref(self.py));
        Ok(out)
    }

    /// A mapping key: made once per distinct text (keys repeat in every document), and
    /// interned (look-ups with a literal key, which Python interns, then compare
    /// pointers instead of text); a str, else the build gives up.
    fn key(&mut self, kind: Kind) -> R<Py<PyString>> {
        let (text, plain) = match kind {
            Kind::Str(v) => (v, false),
            Kind::Plain(v) => (v, true),
            _ => return Err(GiveUp::Unsupported),
        };
        // a plain key PyYAML may type is looked up apart: `yes` is a bool, 'yes' a str
        let made = if plain { &self.made.plain_keys } else { &self.made.keys };
        if let Some(hit) = made.get(&text) {
            return Ok(hit.clone_ref(self.py));
        }
        if plain {
            let out = self.resolved(text.clone())?;
            let out = out.bind(self.py);
            // a key PyYAML makes an int, a bool, a date ...
            if !out.is_exact_instance_of::<PyString>() || out.downcast::<PyString>().map_err(PyErr::from)?.to_str()? != text {
                return Err(GiveUp::Unsupported);
            }
        }
        let key = PyString::intern(self.py, &text).unbind();
        let made = if plain { &mut self.made.plain_keys } else { &mut self.made.keys };
        made.insert(text, key.clone_ref(self.py));
        Ok(key)
    }

    /// The value of the node at `nodes[*i]` (advancing past it and everything under it);
    /// the entries of its keys and items are pushed.
    fn value(&mut self, nodes: &mut [Node], i: &mut usize) -> R<PyObject> {
        let at = *i;
        *i += 1;
        match std::mem::replace(&mut nodes[at].kind, Kind::Seq(0)) {
            Kind::Str(v) => {
                if v.len() > 40 {
                    return Ok(PyString::new(self.py, &v).into_any().unbind());
                }
                if let Some(hit) = self.made.values.get(&v) {
                    return Ok(hit.clone_ref(self.py));
                }
                let s = PyString::new(self.py, &v).into_any().unbind();
                self.made.values.insert(v, s.clone_ref(self.py));
                Ok(s)
            }
            Kind::Plain(v) => self.resolved(v),
            Kind::Seq(n) => {
                let out = PyList::empty(self.py);
                for _ in 0..n {
                    let node = &nodes[*i];
                    let me = self.entries.len();
                    self.entries.push(Entry { line: node.line, col: node.col, size: 0, kind: kind_of(node), key: None });
                    let item = self.value(nodes, i)?;
                    self.entries[me].size = (self.entries.len() - me) as u32;
                    out.append(item)?;
                }
                Ok(out.into_any().unbind())
            }
            Kind::Map(n) => {
                let out = PyDict::new(self.py);
                for k in 0..n as usize {
                    let knode = &mut nodes[*i];
                    let (line, col) = (knode.line, knode.col);
                    let key = self.key(std::mem::replace(&mut knode.kind, Kind::Seq(0)))?;
                    *i += 1;
                    let me = self.entries.len();
                    let kind = kind_of(&nodes[*i]);
                    self.entries.push(Entry { line, col, size: 0, kind, key: Some(key.clone_ref(self.py)) });
                    let value = self.value(nodes, i)?;
                    self.entries[me].size = (self.entries.len() - me) as u32;
                    out.set_item(key, value)?;
                    // a key seen before replaced its value instead of adding one: a duplicate
                    // key, which PyYAML's path reports (what was built here is dropped)
                    if out.len() != k + 1 {
                        return Err(GiveUp::Unsupported);
                    }
                }
                Ok(out.into_any().unbind())
            }
        }
    }

    /// Every document: (index, line of its root, data, positions, empty).
    fn documents(&mut self, docs: Vec<ParsedDoc>) -> R<Vec<PyObject>> {
        let mut out = Vec::with_capacity(docs.len());
        for (index, mut doc) in docs.into_iter().enumerate() {
            let root = &doc.nodes[0];
            let line = root.line;
            self.entries.clear();
            self.entries.push(Entry { line, col: root.col, size: 0, kind: kind_of(root), key: None });
            let mut i = 0usize;
            let data = self.value(&mut doc.nodes, &mut i)?;
            self.entries[0].size = self.entries.len() as u32;
            let positions = Positions { entries: self.entries.drain(..).collect::<Vec<_>>().into_boxed_slice() };
            let positions = Bound::new(self.py, positions)?;
            out.push((index, line, data, positions, doc.empty).into_pyobject(self.py)?.into_any().unbind());
        }
        Ok(out)
    }
}

/// A map keyed by text with a fast, non-cryptographic hash (the texts are the input's).
type TextMap = HashMap<String, PyObject, foldhash::fast::RandomState>;

/// Objects made once per distinct text.
#[derive(Default)]
struct Made {
    /// plain scalars as the resolver typed them
    resolved: TextMap,
    /// mapping keys that are str whatever the resolvers say (interned)
    keys: HashMap<String, Py<PyString>, foldhash::fast::RandomState>,
    /// ... and the plain ones PyYAML's resolvers typed as str (interned)
    plain_keys: HashMap<String, Py<PyString>, foldhash::fast::RandomState>,
    /// short str values (values repeat: kinds, API versions, labels, images)
    values: TextMap,
}

fn build(py: Python<'_>, docs: Vec<ParsedDoc>, resolve: &Bound<'_, PyAny>, made: &mut Made) -> PyResult<Option<Vec<PyObject>>> {
    let mut b = Build { py, resolve, made, entries: Vec::new() };
    match b.documents(docs) {
        Ok(docs) => Ok(Some(docs)),
        Err(GiveUp::Unsupported) => Ok(None),
        Err(GiveUp::Python(e)) => {
            if e.is_instance_of::<PyValueError>(py) {
                Ok(None) // the resolver's way of giving up
            } else {
                Err(e)
            }
        }
    }
}

/// The documents of `text` as a list of (index, line, data, positions, empty), or None
/// when the text uses anything this fast path leaves to PyYAML.
///
/// `resolve(value)` types a plain scalar whose first character is in `resolve_first`
/// (and the empty one); it raises ValueError to give up. Collections nested deeper than
/// `max_depth` give up too. The text is parsed without the GIL.
#[pyfunction]
fn load(
    py: Python<'_>,
    text: &str,
    resolve: Bound<'_, PyAny>,
    resolve_first: &str,
    max_depth: usize,
) -> PyResult<Option<Vec<PyObject>>> {
    let first: Vec<char> = resolve_first.chars().collect();
    let parsed = py.allow_threads(|| parse(text, &first, max_depth));
    match parsed {
        Ok(docs) => build(py, docs, &resolve, &mut Made::default()),
        Err(Unsupported) => Ok(None),
    }
}

/// A document as [`_nodes`] shows it: (empty, [(kind, text or count, line, column), ...]).
type DocView = (bool, Vec<(&'static str, String, u32, u32)>);

/// The nodes one reader makes of `text` (`reader`: "block" or "general"), for the tests
/// that hold the two readers together: per document, or None where that reader leaves
/// the text to the next.
#[pyfunction]
fn _nodes(text: &str, resolve_first: &str, max_depth: usize, reader: &str) -> PyResult<Option<Vec<DocView>>> {
    let first: Vec<char> = resolve_first.chars().collect();
    let docs = match reader {
        "block" => block::parse(text, &first, max_depth),
        "general" => general(text, &first, max_depth).ok(),
        _ => return Err(PyValueError::new_err("reader: block or general")),
    };
    Ok(docs.map(|docs| {
        docs.into_iter()
            .map(|d| {
                let nodes = d.nodes.into_iter().map(|n| {
                    let (kind, v) = match n.kind {
                        Kind::Str(v) => ("str", v),
                        Kind::Plain(v) => ("plain", v),
                        Kind::Seq(k) => ("seq", k.to_string()),
                        Kind::Map(k) => ("map", k.to_string()),
                    };
                    (kind, v, n.line, n.col)
                });
                (d.empty, nodes.collect())
            })
            .collect()
    }))
}

/// Whether the compiled reader leaves `text` to PyYAML before parsing it (characters
/// and line starts the two readers may read differently).
#[pyfunction(name = "slow_text")]
fn slow_text_py(text: &str) -> bool {
    slow_text(text)
}

// ---------------------------------------------------------------------------------------
// Reading files ahead, on other threads
// ---------------------------------------------------------------------------------------

/// What a reader thread made of a file.
enum Outcome {
    /// anything but a readable regular file of UTF-8 YAML text this reader takes whole:
    /// the caller reads it as before (PyYAML, its errors)
    Slow,
    /// `mtime`: the file's modification time (seconds, nanoseconds) when it was read
    Parsed { dev: u64, ino: u64, size: u64, mtime: (i64, i64), docs: Vec<ParsedDoc> },
}

enum Slot {
    Pending,
    Ready(Outcome),
    Taken,
}

struct State {
    slots: Vec<Slot>,
    /// files before this one were taken (or passed over) by the caller
    consumed: usize,
}

struct Shared {
    paths: Vec<String>,
    resolve_first: Vec<char>,
    max_depth: usize,
    next: AtomicUsize,
    stop: AtomicBool,
    state: Mutex<State>,
    /// a slot was filled
    ready: Condvar,
    /// the caller moved on (room to read further ahead), or stop
    room: Condvar,
}

/// How many files a reader thread may be ahead of the caller (bounds the memory held by
/// parsed files not taken yet).
const LOOKAHEAD: usize = 512;

fn read_file(path: &str, resolve_first: &[char], max_depth: usize) -> Outcome {
    read_file_warm(path, resolve_first, max_depth, true)
}

/// A file parsed before a reader asked for it ([`warm`]): its parse, if the file is
/// still the one parsed (same device, inode, size and modification time).
struct Warmed {
    size: u64,
    mtime: (i64, i64),
    docs: Vec<ParsedDoc>,
}

/// The files the latest [`warm`] parsed, by (device, inode), with that warm's number: a
/// reader thread takes a file's parse from here instead of parsing it again. Emptied
/// when the [`Warm`] that filled it ends (not by an earlier one ending later).
static WARMED: Mutex<Option<(usize, HashMap<(u64, u64), Warmed>)>> = Mutex::new(None);
/// The number of the latest [`warm`]
static WARM_GENERATION: AtomicUsize = AtomicUsize::new(0);

/// Drop the parses of warm number `generation`, if they are the ones kept.
fn drop_warmed(generation: usize) {
    let mut warmed = WARMED.lock().unwrap_or_else(|e| e.into_inner());
    if matches!(warmed.as_ref(), Some((g, _)) if *g == generation) {
        *warmed = None;
    }
}
/// Set when a [`Prefetch`] starts (the caller is reading now): the warm threads stop,
/// leaving what they parsed to its reader threads
static WARM_STOP: AtomicBool = AtomicBool::new(false);

fn read_file_warm(path: &str, resolve_first: &[char], max_depth: usize, take_warmed: bool) -> Outcome {
    // O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer; it is not a
    // regular file, so it is left to the caller, who does not read it either
    let Ok(mut f) = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path) else {
        return Outcome::Slow;
    };
    let Ok(meta) = f.metadata() else { return Outcome::Slow };
    if !meta.is_file() {
        return Outcome::Slow;
    }
    if take_warmed {
        let mut warmed = WARMED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, map)) = warmed.as_mut() {
            if let Some(w) = map.remove(&(meta.dev(), meta.ino())) {
                if w.size == meta.len() && w.mtime == (meta.mtime(), meta.mtime_nsec()) {
                    return Outcome::Parsed {
                        dev: meta.dev(), ino: meta.ino(), size: meta.len(), mtime: w.mtime, docs: w.docs,
                    };
                }
            }
        }
    }
    let mut raw = Vec::with_capacity(meta.len() as usize + 1);
    if f.read_to_end(&mut raw).is_err() {
        return Outcome::Slow;
    }
    // as Python's "utf-8-sig" decodes it: one leading byte order mark is dropped
    let body = raw.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&raw);
    let Ok(text) = std::str::from_utf8(body) else { return Outcome::Slow };
    // "!": a CloudFormation short tag may be there (check reads those with its own loader)
    if text.contains('!') {
        return Outcome::Slow;
    }
    match parse(text, resolve_first, max_depth) {
        Ok(docs) => Outcome::Parsed {
            dev: meta.dev(), ino: meta.ino(), size: meta.len(), mtime: (meta.mtime(), meta.mtime_nsec()), docs,
        },
        Err(Unsupported) => Outcome::Slow,
    }
}

fn worker(shared: Arc<Shared>) {
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        if i >= shared.paths.len() {
            return;
        }
        {
            let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            while i >= st.consumed + LOOKAHEAD && !shared.stop.load(Ordering::Relaxed) {
                st = shared.room.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        }
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let out = std::panic::catch_unwind(|| read_file(&shared.paths[i], &shared.resolve_first, shared.max_depth))
            .unwrap_or(Outcome::Slow);
        let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        st.slots[i] = Slot::Ready(out);
        shared.ready.notify_all();
    }
}

/// Parses files before anyone asks for them, on other threads, while the caller does
/// something else (`edgewise check` imports its rules and loads the topology): a
/// [`Prefetch`] reader then takes each file's parse instead of parsing it again. The
/// threads stop when a Prefetch starts, or past `budget` bytes of text; the parses
/// nobody took are dropped by `close()` (or when this is collected).
#[pyclass(module = "edgewise._fastyaml")]
struct Warm {
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    /// files parsed and kept so far
    parsed: Arc<AtomicUsize>,
    generation: usize,
}

struct WarmJob {
    paths: Vec<String>,
    next: AtomicUsize,
    stop: Arc<AtomicBool>,
    used: AtomicUsize,
    parsed: Arc<AtomicUsize>,
    generation: usize,
    budget: usize,
    resolve_first: Vec<char>,
    max_depth: usize,
}

fn warm_worker(job: Arc<WarmJob>) {
    let WarmJob { paths, next, stop, used, parsed, generation, budget, resolve_first, max_depth } = &*job;
    let (budget, max_depth) = (*budget, *max_depth);
    loop {
        if stop.load(Ordering::Relaxed) || WARM_STOP.load(Ordering::Relaxed) {
            return;
        }
        if used.load(Ordering::Relaxed) > budget {
            return; // the text parsed so far is all this warm may hold
        }
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(path) = paths.get(i) else { return };
        let out = std::panic::catch_unwind(|| read_file_warm(path, resolve_first, max_depth, false))
            .unwrap_or(Outcome::Slow);
        if let Outcome::Parsed { dev, ino, size, mtime, docs } = out {
            used.fetch_add(size as usize, Ordering::Relaxed);
            let mut warmed = WARMED.lock().unwrap_or_else(|e| e.into_inner());
            match warmed.as_mut() {
                Some((g, map)) if *g == *generation => {
                    map.insert((dev, ino), Warmed { size, mtime, docs });
                    parsed.fetch_add(1, Ordering::Relaxed);
                }
                _ => return, // a later warm took over, or this one was closed
            }
        }
    }
}

#[pymethods]
impl Warm {
    /// How many files were parsed and kept so far.
    fn parsed(&self) -> usize {
        self.parsed.load(Ordering::Relaxed)
    }

    /// Stop the threads (each finishes the file it is on) and drop the parses nobody
    /// took.
    fn close(&mut self, py: Python<'_>) {
        py.allow_threads(|| self.finish());
    }
}

impl Warm {
    fn finish(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        drop_warmed(self.generation);
    }
}

impl Drop for Warm {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Start parsing `paths` in order on `threads` threads, until more than `budget` bytes of
/// text were parsed.
#[pyfunction]
fn warm(paths: Vec<String>, resolve_first: &str, max_depth: usize, threads: usize, budget: usize) -> Warm {
    let generation = WARM_GENERATION.fetch_add(1, Ordering::Relaxed) + 1;
    *WARMED.lock().unwrap_or_else(|e| e.into_inner()) = Some((generation, HashMap::new()));
    WARM_STOP.store(false, Ordering::Relaxed);
    let stop = Arc::new(AtomicBool::new(false));
    let parsed = Arc::new(AtomicUsize::new(0));
    let n = paths.len();
    let job = Arc::new(WarmJob {
        paths,
        next: AtomicUsize::new(0),
        stop: Arc::clone(&stop),
        used: AtomicUsize::new(0),
        parsed: Arc::clone(&parsed),
        generation,
        budget,
        resolve_first: resolve_first.chars().collect(),
        max_depth,
    });
    let workers = (0..threads.max(1).min(n.max(1)))
        .map(|_| {
            let job = Arc::clone(&job);
            std::thread::spawn(move || warm_worker(job))
        })
        .collect();
    Warm { stop, workers, parsed, generation }
}

/// Files read and parsed ahead by `threads` threads (without the GIL), taken in turn by
/// the caller, which builds each file's Python objects.
#[pyclass(module = "edgewise._fastyaml")]
struct Prefetch {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    made: Made,
}

#[pymethods]
impl Prefetch {
    #[new]
    fn new(paths: Vec<String>, resolve_first: &str, max_depth: usize, threads: usize) -> Self {
        WARM_STOP.store(true, Ordering::Relaxed); // the caller reads now: no more warming (Warm)
        let n = paths.len();
        let shared = Arc::new(Shared {
            paths,
            resolve_first: resolve_first.chars().collect(),
            max_depth,
            next: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            state: Mutex::new(State { slots: (0..n).map(|_| Slot::Pending).collect(), consumed: 0 }),
            ready: Condvar::new(),
            room: Condvar::new(),
        });
        let workers = (0..threads.max(1).min(n))
            .map(|_| {
                let s = Arc::clone(&shared);
                std::thread::spawn(move || worker(s))
            })
            .collect();
        Prefetch { shared, workers, made: Made::default() }
    }

    /// The file at `index` of the list: None when it is left to the caller's own reading
    /// (not a regular file, not UTF-8, or YAML this reader does not take), else (device,
    /// inode, size, documents), documents as :func:`load` gives them or None when the
    /// build gave up. Files before `index` not taken yet are passed over.
    fn take(&mut self, py: Python<'_>, index: usize, resolve: Bound<'_, PyAny>) -> PyResult<Option<PyObject>> {
        if index >= self.shared.paths.len() {
            return Err(PyValueError::new_err("no such file in this prefetch"));
        }
        let shared = Arc::clone(&self.shared);
        let out = py.allow_threads(move || {
            let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            // files before this one are passed over: the readers may go on past them
            if index > st.consumed {
                st.consumed = index;
                shared.room.notify_all();
            }
            while matches!(st.slots[index], Slot::Pending) {
                st = shared.ready.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            let out = std::mem::replace(&mut st.slots[index], Slot::Taken);
            st.consumed = st.consumed.max(index + 1);
            shared.room.notify_all();
            out
        });
        match out {
            Slot::Taken => Err(PyValueError::new_err("this file was taken already")),
            Slot::Pending => unreachable!("waited for"),
            Slot::Ready(Outcome::Slow) => Ok(None),
            Slot::Ready(Outcome::Parsed { dev, ino, size, docs, .. }) => {
                let docs = build(py, docs, &resolve, &mut self.made)?;
                Ok(Some((dev, ino, size, docs).into_py_any(py)?))
            }
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        {
            let _st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.room.notify_all();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[pymodule]
fn _fastyaml(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(slow_text_py, m)?)?;
    m.add_function(wrap_pyfunction!(_nodes, m)?)?;
    m.add_function(wrap_pyfunction!(emit::dump_docs, m)?)?;
    m.add_class::<Positions>()?;
    m.add_class::<Prefetch>()?;
    m.add_class::<Warm>()?;
    m.add_function(wrap_pyfunction!(warm, m)?)?;
    Ok(())
}

// mimalloc for the extension's own allocations (the parse allocates and frees a string or
// two per scalar: ~15-20% of parsing time went to glibc's malloc and free)
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
