//! The compiled walker of `edgewise.yamlout`: JSON-like Python documents (dicts with
//! str keys, lists, str, int, bool, None) written in PyYAML's block style, byte for byte
//! what `yamlout`'s Python walker (`_mapping`, `_sequence`, `_document`) writes.
//!
//! The walker decides only the layout (indentation, `- `, `key:`, `{}`, `[]`) and the
//! scalars whose text is fixed (`null`, `true`, `false`, machine-size ints). How a
//! string is written stays with `yamlout`: a one-line string is looked up in its cache
//! (str -> text; `_inline` fills it and never caches a string with a line break), and on
//! a miss `_inline(s)` is called; a string with a line break is written by
//! `_literal(s, indent)`. Either callback raising the caller's fallback exception, or
//! anything the Python walker would not write itself (another type, a float, a str
//! subclass, a non-str key, a key of 128 characters or more)
//! gives that document up: its slot in the result is None and the caller writes it with
//! PyYAML. Other exceptions propagate, as they do from the Python walker: the callbacks'
//! own (PyYAML's UnicodeEncodeError for a lone surrogate), and RecursionError for
//! nesting beyond Python's recursion limit (each collection counts one level, as each
//! costs the Python walker one frame).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyString, PyType};
use pyo3::{ffi, intern};
use std::fmt::Write;

/// PyYAML writes keys of this many characters or more as explicit (`? key`) keys.
const MAX_KEY_CHARS: usize = 128;

/// Why a document was not written.
enum Stop {
    /// the caller writes this document with PyYAML
    Fallback,
    Python(PyErr),
}

impl From<PyErr> for Stop {
    fn from(e: PyErr) -> Self {
        Stop::Python(e)
    }
}

type R = Result<(), Stop>;

/// One level of nesting, counted against Python's recursion limit while it lives.
struct Nesting;

impl Nesting {
    fn enter(py: Python<'_>) -> PyResult<Self> {
        // SAFETY: called with the GIL held; a success is paired with the Leave in drop
        if unsafe { ffi::Py_EnterRecursiveCall(c" while writing YAML".as_ptr()) } != 0 {
            return Err(PyErr::fetch(py));
        }
        Ok(Nesting)
    }
}

impl Drop for Nesting {
    fn drop(&mut self) {
        // SAFETY: the GIL is held for the whole walk; paired with a successful Enter
        unsafe { ffi::Py_LeaveRecursiveCall() }
    }
}

struct Emitter<'py> {
    cache: Bound<'py, PyDict>,
    inline: Bound<'py, PyAny>,
    literal: Bound<'py, PyAny>,
    fallback: Bound<'py, PyType>,
    out: String,
}

impl<'py> Emitter<'py> {
    fn pad(&mut self, n: usize) {
        self.out.extend(std::iter::repeat_n(' ', n));
    }

    /// Append the text a callback returned (its fallback exception gives the document up).
    fn push_called(&mut self, result: PyResult<Bound<'py, PyAny>>) -> R {
        match result {
            Ok(text) => {
                let text = text.downcast_into::<PyString>().map_err(PyErr::from)?;
                self.out.push_str(text.to_str()?);
                Ok(())
            }
            Err(e) if e.is_instance(self.cache.py(), &self.fallback) => Err(Stop::Fallback),
            Err(e) => Err(Stop::Python(e)),
        }
    }

    /// Append the cached text of `s`, if it has one (false: not seen yet).
    fn cached(&mut self, s: &Bound<'py, PyString>) -> PyResult<bool> {
        let Some(text) = self.cache.get_item(s)? else { return Ok(false) };
        self.out.push_str(text.downcast_into::<PyString>()?.to_str()?);
        Ok(true)
    }

    /// Append a one-line string as a key or a value: its cached text, else `_inline`'s.
    fn inline(&mut self, s: &Bound<'py, PyString>) -> R {
        if self.cached(s)? {
            return Ok(());
        }
        let result = self.inline.call1((s,));
        self.push_called(result)
    }

    /// Append a string value whose block content (if it has line breaks) is at `indent`.
    fn string(&mut self, s: &Bound<'py, PyString>, indent: usize) -> R {
        // the cache holds one-line strings only: a hit needs no look at the text
        if self.cached(s)? {
            return Ok(());
        }
        // asked of the str itself: a lone surrogate goes to the callbacks as it would in Python
        let result = if s.as_any().contains(intern!(s.py(), "\n"))? {
            self.literal.call1((s, indent))
        } else {
            self.inline.call1((s,))
        };
        self.push_called(result)
    }

    fn scalar(&mut self, value: &Bound<'py, PyAny>) -> R {
        if value.is_none() {
            self.out.push_str("null");
        } else if let Ok(b) = value.downcast_exact::<PyBool>() {
            self.out.push_str(if b.is_true() { "true" } else { "false" });
        } else if value.is_exact_instance_of::<PyInt>() {
            match value.extract::<i64>() {
                Ok(n) => write!(self.out, "{n}").expect("writing to a String"),
                // beyond 64 bits: Python's str(), as the Python walker and PyYAML write them
                // (ValueError past Python's limit on int digits, as there)
                Err(_) => self.out.push_str(value.str()?.to_str()?),
            }
        } else {
            return Err(Stop::Fallback);
        }
        Ok(())
    }

    /// `d` (non-empty) at column `indent`, its first key continuing the current line.
    fn mapping(&mut self, d: &Bound<'py, PyDict>, indent: usize) -> R {
        let _level = Nesting::enter(d.py())?;
        let mut first = true;
        for (key, value) in d.iter() {
            let Ok(key) = key.downcast_exact::<PyString>() else { return Err(Stop::Fallback) };
            if key.len()? >= MAX_KEY_CHARS {
                return Err(Stop::Fallback);
            }
            if !first {
                self.out.push('\n');
                self.pad(indent);
            }
            first = false;
            self.inline(key)?;
            self.out.push(':');
            if let Ok(s) = value.downcast_exact::<PyString>() {
                self.out.push(' ');
                self.string(s, indent + 2)?;
            } else if let Ok(child) = value.downcast_exact::<PyDict>() {
                if child.is_empty() {
                    self.out.push_str(" {}");
                } else {
                    self.out.push('\n');
                    self.pad(indent + 2);
                    self.mapping(child, indent + 2)?;
                }
            } else if let Ok(items) = value.downcast_exact::<PyList>() {
                if items.is_empty() {
                    self.out.push_str(" []");
                } else {
                    // a block sequence under a key is not indented
                    self.sequence(items, indent, false)?;
                }
            } else {
                self.out.push(' ');
                self.scalar(&value)?;
            }
        }
        Ok(())
    }

    /// `items` (non-empty) with their `- ` at column `indent`; `inline`: the first
    /// continues the current line (an item of an item).
    fn sequence(&mut self, items: &Bound<'py, PyList>, indent: usize, inline: bool) -> R {
        let _level = Nesting::enter(items.py())?;
        let mut first = inline;
        for value in items.iter() {
            if !first {
                self.out.push('\n');
                self.pad(indent);
            }
            first = false;
            self.out.push_str("- ");
            if let Ok(s) = value.downcast_exact::<PyString>() {
                self.string(s, indent + 2)?;
            } else if let Ok(child) = value.downcast_exact::<PyDict>() {
                if child.is_empty() {
                    self.out.push_str("{}");
                } else {
                    self.mapping(child, indent + 2)?;
                }
            } else if let Ok(child) = value.downcast_exact::<PyList>() {
                if child.is_empty() {
                    self.out.push_str("[]");
                } else {
                    self.sequence(child, indent + 2, true)?;
                }
            } else {
                self.scalar(&value)?;
            }
        }
        Ok(())
    }

    /// Append `obj` as a block document (without the start marker); Ok(false) when it is
    /// left to PyYAML (not a non-empty dict or list, or given up on).
    fn document(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<bool> {
        let done = if let Ok(d) = obj.downcast_exact::<PyDict>() {
            if d.is_empty() {
                return Ok(false);
            }
            self.mapping(d, 0)
        } else if let Ok(items) = obj.downcast_exact::<PyList>() {
            if items.is_empty() {
                return Ok(false);
            }
            self.sequence(items, 0, true)
        } else {
            return Ok(false);
        };
        match done {
            Ok(()) => {
                self.out.push('\n');
                Ok(true)
            }
            Err(Stop::Fallback) => Ok(false),
            Err(Stop::Python(e)) => Err(e),
        }
    }
}

/// Each of `objs` as YAML text (starting with `---` if `explicit_start`), or None where
/// the document is left to PyYAML. `cache` maps one-line strings to their text;
/// `inline(s)` writes a one-line string (and caches it), `literal(s, indent)` a string
/// with line breaks as a block scalar; either raises `fallback` to give the document up.
#[pyfunction]
#[pyo3(signature = (objs, cache, inline, literal, fallback, *, explicit_start))]
pub fn dump_docs<'py>(
    objs: &Bound<'py, PyAny>,
    cache: Bound<'py, PyDict>,
    inline: Bound<'py, PyAny>,
    literal: Bound<'py, PyAny>,
    fallback: Bound<'py, PyType>,
    explicit_start: bool,
) -> PyResult<Bound<'py, PyList>> {
    let py = objs.py();
    let texts = PyList::empty(py);
    let mut e = Emitter { cache, inline, literal, fallback, out: String::with_capacity(4096) };
    for obj in objs.try_iter()? {
        let obj = obj?;
        e.out.clear();
        if explicit_start {
            e.out.push_str("---\n");
        }
        if e.document(&obj)? {
            texts.append(PyString::new(py, &e.out))?;
        } else {
            texts.append(py.None())?;
        }
    }
    Ok(texts)
}
