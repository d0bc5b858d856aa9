//! Build plain Python data and the line/column of every mapping key and sequence item
//! straight from a YAML event stream, without node objects.
//!
//! This is the fast path of `edgewise.spec.yamlsource`: it handles the YAML that
//! Kubernetes manifests are made of (block and flow collections, plain, quoted and block
//! scalars) and gives up — returning `None` so that the caller reads the text with PyYAML
//! as before — on anything else: anchors, aliases, tags, merge keys, duplicate keys,
//! non-string keys, nesting deeper than the caller's limit, or any parse error. Plain
//! scalars that may be something other than a string under YAML 1.1 (their first
//! character is one PyYAML's implicit resolvers key on) are typed by a callback into
//! PyYAML's own resolver and constructor, so `yes`, `0o17`, `1_000` or `2024-01-01`
//! become exactly what `yaml.safe_load` makes of them.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Why the fast path gave up (the caller then uses PyYAML).
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

struct Builder<'py, I: Iterator<Item = char>> {
    py: Python<'py>,
    parser: Parser<I>,
    resolve: Bound<'py, PyAny>,
    resolve_first: Vec<char>,
    max_depth: usize,
    path: Vec<PyObject>,
    positions: Bound<'py, PyDict>,
    /// mapping keys and resolved plain scalars already made (one object per distinct text)
    made: HashMap<String, PyObject>,
    /// the text, to tell a flow collection (`[`, `{` where it starts) from a block one
    text: &'py str,
    /// how many flow collections enclose the node being read
    flow_depth: usize,
}

impl<'py, I: Iterator<Item = char>> Builder<'py, I> {
    fn next(&mut self) -> R<(Event, Marker)> {
        self.parser.next_token().map_err(|_| GiveUp::Unsupported)
    }

    /// Whether the collection starting at `mark` is a flow one (`[...]`, `{...}`).
    fn is_flow(&self, mark: &Marker) -> bool {
        let at = if self.text.is_ascii() {
            self.text.as_bytes().get(mark.index()).map(|b| *b as char)
        } else {
            self.text.chars().nth(mark.index())
        };
        matches!(at, Some('[') | Some('{'))
    }

    /// A flow collection over several lines: PyYAML (YAML 1.1) and this parser (1.2)
    /// read line starts inside it differently (`- `, `---`, `...`, indentation), so such
    /// texts are left to PyYAML; the files plan writes have none.
    fn flow_over_lines(&self, start: &Marker, end: &Marker) -> R<()> {
        if end.line() != start.line() && self.is_flow(start) {
            return Err(GiveUp::Unsupported);
        }
        Ok(())
    }

    fn pos(&self, mark: &Marker) -> R<Bound<'py, PyTuple>> {
        Ok(PyTuple::new(self.py, [mark.line(), mark.col() + 1])?)
    }

    fn path_with(&self, last: PyObject) -> R<Bound<'py, PyTuple>> {
        let items: Vec<&PyObject> = self.path.iter().chain(std::iter::once(&last)).collect();
        Ok(PyTuple::new(self.py, items)?)
    }

    /// A plain scalar: a str unless PyYAML's implicit resolvers may type it.
    fn plain(&mut self, value: String) -> R<PyObject> {
        let first = value.chars().next();
        // PyYAML's scanner starts no plain scalar with an indicator (its check_plain:
        // `-` only before a non-space, `?` and `:` only so and outside flow context);
        // yaml-rust2 (YAML 1.2) takes some of them, e.g. `{|}` or `[>:a]`, where PyYAML
        // reports an error: leave every such text to PyYAML
        if let Some(c) = first {
            if PLAIN_NEVER_STARTS.contains(c) || (self.flow_depth > 0 && PLAIN_BLOCK_ONLY_STARTS.contains(c)) {
                return Err(GiveUp::Unsupported);
            }
        }
        let needs = match first {
            None => true,
            Some(c) => self.resolve_first.contains(&c),
        };
        if needs {
            if let Some(hit) = self.made.get(&value) {
                return Ok(hit.clone_ref(self.py));
            }
            let out = self.resolve.call1((value.as_str(),))?.unbind();
            self.made.insert(value, out.clone_ref(self.py));
            Ok(out)
        } else {
            Ok(PyString::new(self.py, &value).into_any().unbind())
        }
    }

    /// A mapping key: made once per distinct text (keys repeat in every document).
    fn key(&mut self, value: String, style: TScalarStyle) -> R<PyObject> {
        if style == TScalarStyle::Plain {
            if let Some(hit) = self.made.get(&value) {
                return Ok(hit.clone_ref(self.py));
            }
            let out = self.plain(value.clone())?;
            self.made.insert(value, out.clone_ref(self.py));
            return Ok(out);
        }
        self.scalar(value, style)
    }

    fn scalar(&mut self, value: String, style: TScalarStyle) -> R<PyObject> {
        match style {
            TScalarStyle::Plain => self.plain(value),
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => {
                Ok(PyString::new(self.py, &value).into_any().unbind())
            }
            // block scalars: this parser marks their content, PyYAML their indicator
            _ => Err(GiveUp::Unsupported),
        }
    }

    /// The value of the node that starts with `ev` at `mark`, and where PyYAML's composer
    /// says it starts: a block mapping at its first key (this parser marks the first
    /// key's colon), anything else where its first event is.
    fn value(&mut self, ev: Event, mark: Marker, depth: usize) -> R<(PyObject, Marker)> {
        match ev {
            Event::Scalar(v, style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    return Err(GiveUp::Unsupported);
                }
                Ok((self.scalar(v, style)?, mark))
            }
            Event::SequenceStart(anchor, tag) => {
                if anchor != 0 || tag.is_some() || depth >= self.max_depth {
                    return Err(GiveUp::Unsupported);
                }
                let flow = self.is_flow(&mark);
                self.flow_depth += usize::from(flow);
                let out = PyList::empty(self.py);
                let mut i: usize = 0;
                loop {
                    let (ev, item_mark) = self.next()?;
                    match &ev {
                        Event::SequenceEnd => {
                            self.flow_over_lines(&mark, &item_mark)?;
                            break;
                        }
                        // an empty item: PyYAML marks it where the "-" ends, this parser elsewhere
                        Event::Scalar(v, TScalarStyle::Plain, _, _) if v.is_empty() => {
                            return Err(GiveUp::Unsupported)
                        }
                        _ => {}
                    }
                    let index = i.into_py_any(self.py)?;
                    let key = self.path_with(index.clone_ref(self.py))?;
                    self.path.push(index);
                    let (item, at) = self.value(ev, item_mark, depth + 1)?;
                    self.path.pop();
                    self.positions.set_item(&key, self.pos(&at)?)?;
                    out.append(item)?;
                    i += 1;
                }
                self.flow_depth -= usize::from(flow);
                Ok((out.into_any().unbind(), mark))
            }
            Event::MappingStart(anchor, tag) => {
                if anchor != 0 || tag.is_some() || depth >= self.max_depth {
                    return Err(GiveUp::Unsupported);
                }
                let flow = self.is_flow(&mark);
                self.flow_depth += usize::from(flow);
                let out = PyDict::new(self.py);
                let mut start = mark;
                let mut first = true;
                loop {
                    let (ev, kmark) = self.next()?;
                    if first && kmark.index() <= start.index() && !matches!(ev, Event::MappingEnd) {
                        start = kmark; // a block mapping: it starts at its first key
                    }
                    first = false;
                    let key = match ev {
                        Event::MappingEnd => {
                            self.flow_over_lines(&mark, &kmark)?;
                            break;
                        }
                        Event::Scalar(v, style, anchor, tag) => {
                            if anchor != 0 || tag.is_some() || (style == TScalarStyle::Plain && v == "<<") {
                                return Err(GiveUp::Unsupported);
                            }
                            self.key(v, style)?
                        }
                        _ => return Err(GiveUp::Unsupported),
                    };
                    if !key.bind(self.py).is_exact_instance_of::<PyString>() || out.contains(&key)? {
                        return Err(GiveUp::Unsupported);
                    }
                    let kpath = self.path_with(key.clone_ref(self.py))?;
                    self.positions.set_item(&kpath, self.pos(&kmark)?)?;
                    let (ev, vmark) = self.next()?;
                    self.path.push(key.clone_ref(self.py));
                    let (value, _) = self.value(ev, vmark, depth + 1)?;
                    self.path.pop();
                    out.set_item(key, value)?;
                }
                self.flow_depth -= usize::from(flow);
                Ok((out.into_any().unbind(), start))
            }
            _ => Err(GiveUp::Unsupported),
        }
    }

    /// Every document: (index, line of its root, data, positions, empty).
    fn documents(&mut self) -> R<Vec<PyObject>> {
        let mut docs = Vec::new();
        let mut index: usize = 0;
        loop {
            let (ev, _) = self.next()?;
            match ev {
                Event::StreamStart | Event::DocumentEnd => continue,
                Event::StreamEnd => break,
                Event::DocumentStart => {
                    let (root, mark) = self.next()?;
                    let empty = matches!(&root, Event::Scalar(v, TScalarStyle::Plain, 0, None) if v.is_empty());
                    self.positions = PyDict::new(self.py);
                    self.path.clear();
                    let (data, at) = self.value(root, mark, 0)?;
                    self.positions.set_item(PyTuple::empty(self.py), self.pos(&at)?)?;
                    let doc = (index, at.line(), data, self.positions.clone(), empty);
                    docs.push(doc.into_pyobject(self.py)?.into_any().unbind());
                    index += 1;
                }
                _ => return Err(GiveUp::Unsupported),
            }
        }
        Ok(docs)
    }
}

/// The documents of `text` as a list of (index, line, data, positions, empty), or None
/// when the text uses anything this fast path leaves to PyYAML.
///
/// `resolve(value)` types a plain scalar whose first character is in `resolve_first`
/// (and the empty one); it raises to give up. Collections nested deeper than
/// `max_depth` give up too.
#[pyfunction]
fn load(
    py: Python<'_>,
    text: &str,
    resolve: Bound<'_, PyAny>,
    resolve_first: &str,
    max_depth: usize,
) -> PyResult<Option<Vec<PyObject>>> {
    let mut b = Builder {
        py,
        parser: Parser::new_from_str(text),
        resolve,
        resolve_first: resolve_first.chars().collect(),
        max_depth,
        path: Vec::new(),
        positions: PyDict::new(py),
        made: HashMap::new(),
        text,
        flow_depth: 0,
    };
    match b.documents() {
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

#[pymodule]
fn _fastyaml(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(load, m)?)?;
    Ok(())
}
