//! A faster reading of the block YAML that generated manifests are made of: block
//! mappings and sequences over lines, one scalar per line (plain, single- or
//! double-quoted) or a flow collection closed on the same line (`[]`, `{}`,
//! `{instanceType: m6i.large, desired: 2}`), and comments. `edgewise plan` writes nothing
//! else but a few templates, and most hand-written Kubernetes manifests are the same.
//!
//! yaml-rust2 (the general reader, [`super::parse`]) spends most of its time in a
//! character-by-character scanner; at 200 zones × 40 services check parses 18 MB with
//! it on two threads, and that parse is what its read waits for. Reading line by line
//! makes the same nodes several times faster. No library does that (yaml-rust2,
//! saphyr-parser and libyaml were measured; none is faster), hence this module.
//!
//! It is a fast path, not a second YAML reader: [`parse`] returns `None` (and the caller
//! parses with yaml-rust2, exactly as before) at the first thing outside that subset or
//! anything it is unsure of: a non-ASCII text, a multi-line plain or quoted scalar, a
//! block scalar other than a literal one (`|`, `|-`, `|+`; see [`Block::literal`]), a flow
//! collection over lines or with an empty entry, a pair in a flow sequence, a colon or
//! comment inside a flow scalar, anchors, aliases, tags, explicit keys, an empty value or
//! item, a sequence directly in a sequence or at a document's root, an empty document,
//! a key with a space before its colon, any indentation that is not a clean block
//! structure. What it returns is exactly what the general reader returns for the same
//! text: the same nodes, kinds and positions (`tests/test_fastyaml_block.py` holds the
//! two together, on every YAML file of the repository, on plans of every example and
//! size, and on generated and mutated texts). Literal block scalars are the exception:
//! the general reader leaves them to PyYAML (it marks a block scalar where its text
//! starts, PyYAML at its indicator), so where this path reads one, what it returns is
//! held to PyYAML's own reading instead (`tests/test_fastyaml.py`, and the same tests).

use super::{Kind, Node, ParsedDoc, PLAIN_NEVER_STARTS};

/// A line with content (blank lines and comment lines are left out).
#[derive(Clone, Copy)]
struct Line {
    /// 1-based line number
    no: u32,
    /// byte offset of the line's first character
    base: usize,
    /// byte offset of its first non-space character (`indent` = start - base)
    start: usize,
    /// byte offset of its end (the newline, or the text's end)
    end: usize,
    indent: usize,
}

struct Block<'a> {
    b: &'a [u8],
    text: &'a str,
    lines: Vec<Line>,
    i: usize,
    resolve_first: &'a [char],
    max_depth: usize,
    nodes: Vec<Node>,
}

/// The documents of `text` as nodes, or None where the general reader must read it.
pub(super) fn parse(text: &str, resolve_first: &[char], max_depth: usize) -> Option<Vec<ParsedDoc>> {
    if !text.is_ascii() {
        return None; // positions count characters: only ASCII keeps bytes and columns equal
    }
    let b = text.as_bytes();
    let mut docs: Vec<Vec<Line>> = Vec::new();
    let mut cur: Vec<Line> = Vec::new();
    // a "---" was seen and no content after it yet (an empty document: left to the general reader)
    let mut opened = false;
    let mut pos = 0usize;
    let mut no = 0u32;
    while pos < b.len() {
        let end = b[pos..].iter().position(|&c| c == b'\n').map_or(b.len(), |k| pos + k);
        no += 1;
        let line = &b[pos..end];
        let indent = line.iter().take_while(|&&c| c == b' ').count();
        if indent == line.len() || line[indent] == b'#' {
            // blank, or a comment
        } else if indent == 0 && line.starts_with(b"---") && (line.len() == 3 || line[3] == b' ') {
            let rest = &line[3..];
            let k = rest.iter().take_while(|&&c| c == b' ').count();
            if k < rest.len() && !(k > 0 && rest[k] == b'#') {
                return None; // content on the document-start line
            }
            if opened && cur.is_empty() {
                return None;
            }
            if !cur.is_empty() {
                docs.push(std::mem::take(&mut cur));
            }
            opened = true;
        } else {
            cur.push(Line { no, base: pos, start: pos + indent, end, indent });
            opened = false;
        }
        pos = end + 1;
    }
    if opened {
        return None;
    }
    if !cur.is_empty() {
        docs.push(cur);
    }
    let mut out = Vec::with_capacity(docs.len());
    for lines in docs {
        let mut p = Block { b, text, lines, i: 0, resolve_first, max_depth, nodes: Vec::new() };
        let first = p.lines[0];
        if p.is_item(&first) {
            return None; // a sequence at the root
        }
        p.mapping(first.indent, first.start, 0)?;
        if p.i != p.lines.len() {
            return None; // a line outside the root mapping
        }
        out.push(ParsedDoc { empty: false, nodes: p.nodes });
    }
    Some(out)
}

/// A plain key left to the general reader: a merge key, or one holding a character it
/// may read otherwise (an indicator, a quote, a comment sign).
fn key_left(v: &str) -> bool {
    v == "<<" || v.bytes().any(|x| b"[]{},#&*!|>'\"%@`".contains(&x))
}

impl Block<'_> {
    /// A sequence item's line: `-` alone or followed by a space.
    fn is_item(&self, l: &Line) -> bool {
        self.is_dash(l.start, l.end)
    }

    /// The first non-space offset in `from..end`.
    fn skip_spaces(&self, mut from: usize, end: usize) -> usize {
        while from < end && self.b[from] == b' ' {
            from += 1;
        }
        from
    }

    /// Only spaces, then nothing or a comment, from `from` to `end` (a comment needs a
    /// space before its `#`).
    fn rest_is_empty(&self, from: usize, end: usize) -> bool {
        let k = self.skip_spaces(from, end);
        k == end || (k > from && self.b[k] == b'#')
    }

    /// The kind of a plain scalar, as the general reader makes it.
    fn plain(&self, v: &str) -> Kind {
        let first = v.chars().next();
        let needs = match first {
            None => true,
            Some(c) => self.resolve_first.contains(&c),
        };
        if needs {
            Kind::Plain(v.to_owned())
        } else {
            Kind::Str(v.to_owned())
        }
    }

    /// A quoted scalar starting at `start` (its quote) and ending on this line: its text
    /// and the offset after its closing quote.
    fn quoted(&self, start: usize, end: usize) -> Option<(String, usize)> {
        let q = self.b[start];
        let mut k = start + 1;
        if q == b'"' {
            // no backslash escapes here: a text with a backslash never comes this far
            while k < end && self.b[k] != b'"' {
                k += 1;
            }
            if k == end {
                return None; // goes on over lines
            }
            return Some((self.text[start + 1..k].to_owned(), k + 1));
        }
        let mut v = String::new();
        let mut from = k;
        loop {
            while k < end && self.b[k] != b'\'' {
                k += 1;
            }
            if k == end {
                return None;
            }
            if k + 1 < end && self.b[k + 1] == b'\'' {
                v.push_str(&self.text[from..=k]); // '' is one quote
                k += 2;
                from = k;
                continue;
            }
            v.push_str(&self.text[from..k]);
            return Some((v, k + 1));
        }
    }

    /// A mapping key at `start`: its kind and the offset just after its `:` (which is
    /// followed by a space or the line's end); None when the line holds no such key.
    fn key(&self, start: usize, end: usize) -> Option<(Kind, usize)> {
        let c = self.b[start];
        if c == b'\'' || c == b'"' {
            let (v, after) = self.quoted(start, end)?;
            if after < end && self.b[after] == b':' && (after + 1 == end || self.b[after + 1] == b' ') {
                return Some((Kind::Str(v), after + 1));
            }
            return None;
        }
        if PLAIN_NEVER_STARTS.contains(c as char) || matches!(c, b'-' | b'?' | b':') {
            return None; // an indicator, or a key form this path does not take
        }
        let mut k = start;
        while k < end {
            match self.b[k] {
                b':' if k + 1 == end || self.b[k + 1] == b' ' => {
                    if self.b[k - 1] == b' ' {
                        return None; // a space before the colon
                    }
                    let v = &self.text[start..k];
                    if key_left(v) {
                        return None;
                    }
                    return Some((self.plain(v), k + 1));
                }
                b'#' if self.b[k - 1] == b' ' => return None, // a comment before any colon
                _ => k += 1,
            }
        }
        None
    }

    /// The scalar (or empty flow collection) from `start` to the line's end: pushed.
    fn inline(&mut self, l: &Line, start: usize, depth: usize) -> Option<()> {
        let (end, col) = (l.end, (start - l.base + 1) as u32);
        let c = self.b[start];
        let kind = match c {
            b'\'' | b'"' => {
                let (v, after) = self.quoted(start, end)?;
                if !self.rest_is_empty(after, end) {
                    return None;
                }
                Kind::Str(v)
            }
            b'[' | b'{' => {
                let after = self.flow(l, start, depth)?;
                return if self.rest_is_empty(after, end) { Some(()) } else { None };
            }
            _ => {
                if PLAIN_NEVER_STARTS.contains(c as char)
                    || (matches!(c, b'-' | b'?' | b':') && (start + 1 == end || self.b[start + 1] == b' '))
                {
                    return None;
                }
                // the plain scalar ends at a comment (" #") or the line's end
                let mut k = start;
                let mut stop = end;
                while k < end {
                    match self.b[k] {
                        b'#' if self.b[k - 1] == b' ' => {
                            stop = k;
                            break;
                        }
                        b':' if k + 1 == end || self.b[k + 1] == b' ' => return None, // a mapping where none may be
                        _ => k += 1,
                    }
                }
                while stop > start && self.b[stop - 1] == b' ' {
                    stop -= 1;
                }
                self.plain(&self.text[start..stop])
            }
        };
        self.nodes.push(Node { kind, line: l.no, col });
        Some(())
    }

    /// A flow collection (`[...]`, `{...}`) starting at `start` and closed on the same
    /// line (over lines, YAML 1.1 and 1.2 read line starts inside it differently: left to
    /// the general reader, which leaves it to PyYAML): pushed; the offset after it. Items
    /// and values are scalars or flow collections; a key is a scalar followed by `: `.
    /// Left to the general reader: an empty entry or a trailing comma, a pair in a
    /// sequence (`[a: b]`), a key without a value, a colon or a comment inside a plain
    /// scalar (YAML 1.1 and 1.2 differ there), anything else unexpected.
    fn flow(&mut self, l: &Line, start: usize, depth: usize) -> Option<usize> {
        if depth >= self.max_depth {
            return None;
        }
        let (open, end) = (self.b[start], l.end);
        let close = if open == b'[' { b']' } else { b'}' };
        let me = self.nodes.len();
        let kind = if open == b'[' { Kind::Seq(0) } else { Kind::Map(0) };
        self.nodes.push(Node { kind, line: l.no, col: (start - l.base + 1) as u32 });
        let mut k = self.skip_spaces(start + 1, end);
        if k < end && self.b[k] == close {
            return Some(k + 1);
        }
        let mut n: u32 = 0;
        loop {
            if k >= end {
                return None;
            }
            if open == b'{' {
                let (kind, after) = self.flow_scalar(k, end, true)?;
                self.nodes.push(Node { kind, line: l.no, col: (k - l.base + 1) as u32 });
                if after + 1 >= end || self.b[after] != b':' || self.b[after + 1] != b' ' {
                    return None;
                }
                k = self.skip_spaces(after + 1, end);
            }
            if k >= end {
                return None;
            }
            k = if matches!(self.b[k], b'[' | b'{') {
                self.flow(l, k, depth + 1)?
            } else {
                let (kind, after) = self.flow_scalar(k, end, false)?;
                self.nodes.push(Node { kind, line: l.no, col: (k - l.base + 1) as u32 });
                after
            };
            n += 1;
            k = self.skip_spaces(k, end);
            if k >= end {
                return None;
            }
            if self.b[k] == close {
                self.nodes[me].kind = if open == b'[' { Kind::Seq(n) } else { Kind::Map(n) };
                return Some(k + 1);
            }
            if self.b[k] != b',' {
                return None;
            }
            k = self.skip_spaces(k + 1, end);
            if k < end && self.b[k] == close {
                return None; // a trailing comma
            }
        }
    }

    /// A scalar inside a flow collection at `k`: its kind and the offset after it (a
    /// plain one without its trailing spaces). `key`: it is a mapping key (it ends before
    /// `: `).
    fn flow_scalar(&self, k: usize, end: usize, key: bool) -> Option<(Kind, usize)> {
        let c = self.b[k];
        if c == b'\'' || c == b'"' {
            let (v, after) = self.quoted(k, end)?;
            return Some((Kind::Str(v), after));
        }
        // in a flow collection a plain scalar may start with "-" only before a character
        // that is neither a space nor a flow indicator
        if PLAIN_NEVER_STARTS.contains(c as char)
            || matches!(c, b'?' | b':')
            || (c == b'-' && (k + 1 == end || matches!(self.b[k + 1], b' ' | b',' | b'[' | b']' | b'{' | b'}')))
        {
            return None;
        }
        let mut j = k;
        while j < end {
            match self.b[j] {
                b',' | b'[' | b']' | b'{' | b'}' => break,
                b':' if key && j + 1 < end && self.b[j + 1] == b' ' => break,
                b':' => return None,
                b'#' if self.b[j - 1] == b' ' => return None,
                _ => j += 1,
            }
        }
        let mut stop = j;
        while stop > k && self.b[stop - 1] == b' ' {
            stop -= 1;
        }
        let v = &self.text[k..stop];
        if key && key_left(v) {
            return None;
        }
        Some((self.plain(v), stop))
    }

    /// After a value on the key's or the dash's own line: the next line may not be more
    /// indented than `col` (that would continue the scalar over lines).
    fn ends_here(&self, col: usize) -> Option<()> {
        match self.lines.get(self.i) {
            Some(n) if n.indent > col => None,
            _ => Some(()),
        }
    }

    /// A block mapping whose keys are at column `col`, the first of them starting at
    /// byte `first` of the current line.
    fn mapping(&mut self, col: usize, first: usize, depth: usize) -> Option<()> {
        if depth >= self.max_depth {
            return None;
        }
        let me = self.nodes.len();
        self.nodes.push(Node { kind: Kind::Map(0), line: 0, col: 0 });
        let head = self.lines[self.i];
        let (line, mcol) = (head.no, (first - head.base + 1) as u32);
        let mut start = first;
        let mut n: u32 = 0;
        loop {
            let l = self.lines[self.i];
            let (kind, after) = self.key(start, l.end)?;
            self.nodes.push(Node { kind, line: l.no, col: (start - l.base + 1) as u32 });
            let v = self.skip_spaces(after, l.end);
            if v == l.end || (v > after && self.b[v] == b'#') {
                // the value is on the lines below: more indented, or a sequence at this column
                self.i += 1;
                let next = *self.lines.get(self.i)?;
                if next.indent > col {
                    self.block(&next, depth + 1, false)?;
                } else if next.indent == col && self.is_item(&next) {
                    let v = self.skip_spaces(next.start + 1, next.end);
                    if v == next.end || self.b[v] == b'#' {
                        // its first item on the lines below: the general reader marks the
                        // sequence somewhere after the dash's line; left to it
                        return None;
                    }
                    let at = self.nodes.len();
                    let first = self.sequence(col, depth + 1)?;
                    // a sequence at its key's column: the general reader marks it where its
                    // first item starts, not at the dash (never read: a value's position is
                    // its key's), and takes it for a flow sequence where that item is a flow
                    // collection (it then leaves the text to PyYAML: so does this path)
                    if matches!(self.b[first], b'[' | b'{') {
                        return None;
                    }
                    let (line, col) = (self.nodes[at + 1].line, self.nodes[at + 1].col);
                    self.nodes[at].line = line;
                    self.nodes[at].col = col;
                } else {
                    return None; // an empty value (null)
                }
            } else if self.b[v] == b'|' {
                self.literal(&l, v, col)?;
                self.ends_here(col)?;
            } else {
                self.inline(&l, v, depth + 1)?;
                self.i += 1;
                self.ends_here(col)?;
            }
            n += 1;
            let Some(next) = self.lines.get(self.i).copied() else { break };
            if next.indent < col {
                break;
            }
            if next.indent > col || self.is_item(&next) {
                return None;
            }
            start = next.start;
        }
        self.nodes[me] = Node { kind: Kind::Map(n), line, col: mcol };
        Some(())
    }

    /// The block starting at line `l` (more indented than its parent): a mapping, or a
    /// sequence unless `in_item` (a sequence in a sequence is left to the general reader).
    fn block(&mut self, l: &Line, depth: usize, in_item: bool) -> Option<()> {
        if self.is_item(l) {
            if in_item {
                return None;
            }
            return self.sequence(l.indent, depth).map(|_| ());
        }
        self.mapping(l.indent, l.start, depth)
    }

    /// A block sequence whose dashes are at column `col`, the first on the current line;
    /// the byte where its first item starts.
    fn sequence(&mut self, col: usize, depth: usize) -> Option<usize> {
        if depth >= self.max_depth {
            return None;
        }
        let me = self.nodes.len();
        let head = self.lines[self.i];
        self.nodes.push(Node { kind: Kind::Seq(0), line: head.no, col: (col + 1) as u32 });
        let mut n: u32 = 0;
        let mut first = None;
        loop {
            let l = self.lines[self.i];
            let v = self.skip_spaces(l.start + 1, l.end);
            if v == l.end || self.b[v] == b'#' {
                // the item is on the lines below
                self.i += 1;
                let next = *self.lines.get(self.i)?;
                if next.indent <= col {
                    return None; // an empty item
                }
                first.get_or_insert(next.start);
                self.block(&next, depth + 1, true)?;
            } else if self.is_dash(v, l.end) {
                return None; // "- - x": a sequence in a sequence
            } else if self.b[v] == b'|' {
                first.get_or_insert(v);
                self.literal(&l, v, col)?;
                self.ends_here(col)?;
            } else if self.key(v, l.end).is_some() {
                first.get_or_insert(v);
                self.mapping(v - l.base, v, depth + 1)?;
            } else {
                first.get_or_insert(v);
                self.inline(&l, v, depth + 1)?;
                self.i += 1;
                self.ends_here(col)?;
            }
            n += 1;
            let Some(next) = self.lines.get(self.i).copied() else { break };
            if next.indent < col || (next.indent == col && !self.is_item(&next)) {
                break;
            }
            if next.indent > col {
                return None;
            }
        }
        self.nodes[me].kind = Kind::Seq(n);
        first
    }

    /// A literal block scalar whose indicator (`|`, `|-` or `|+`) is at byte `start` of
    /// line `l`, the value of a key or an item of a block collection at column `parent`:
    /// pushed (a str, marked at its indicator, as PyYAML marks it); the current line is
    /// then the first line after it. As PyYAML's scanner reads one (`scan_block_scalar`):
    /// its indentation is that of its first line, which must be more than `parent`; each
    /// line at least that indented is a line of text (what follows that indentation, and
    /// a line break); an empty line is a line break; the first line less indented ends
    /// it. Then the chomping: the line breaks after the last line of text are dropped
    /// (clip, `|`: its own line break is kept; strip, `|-`: it goes too; keep, `|+`:
    /// they all stay). Left to the general reader (which leaves it to PyYAML): an
    /// indentation indicator, anything but spaces and a comment after the indicator, an
    /// empty line or a line of spaces before its first line of text, a line of spaces
    /// only anywhere in it (PyYAML counts the spaces past its indentation as text),
    /// and a first line not more indented than `parent` (an empty scalar).
    fn literal(&mut self, l: &Line, start: usize, parent: usize) -> Option<()> {
        let mut k = start + 1;
        let chomp = match self.b.get(k) {
            Some(b'-') => {
                k += 1;
                b'-'
            }
            Some(b'+') => {
                k += 1;
                b'+'
            }
            _ => b' ',
        };
        if k < l.end && self.b[k] != b' ' {
            return None; // an indentation indicator, another indicator, or text
        }
        if !self.rest_is_empty(k, l.end) {
            return None;
        }
        // the raw lines after the indicator's (blank and comment-like lines included)
        let b = self.b;
        let mut pos = l.end + 1;
        let mut no = l.no;
        let mut indent = 0usize;
        let mut value = String::new();
        let mut pending = 0usize; // empty lines since the last line of text
        let mut last_break = ""; // the last line of text's own line break ("" at the text's end)
        let mut last_no = l.no; // the scalar's last line (of text, or empty)
        while pos < b.len() {
            let end = b[pos..].iter().position(|&c| c == b'\n').map_or(b.len(), |x| pos + x);
            let spaces = b[pos..end].iter().take_while(|&&c| c == b' ').count();
            if spaces == end - pos {
                if spaces > 0 || indent == 0 {
                    return None; // a line of spaces, or an empty line before the first line of text
                }
                pending += 1;
                no += 1;
                last_no = no;
                pos = end + 1;
                continue;
            }
            if indent == 0 {
                if spaces <= parent {
                    return None; // no line of text: an empty scalar
                }
                indent = spaces;
            } else if spaces < indent {
                break;
            }
            for _ in 0..pending {
                value.push('\n');
            }
            if !last_break.is_empty() {
                value.push('\n'); // the line break between two lines of text
            }
            pending = 0;
            value.push_str(&self.text[pos + indent..end]);
            last_break = if end < b.len() { "\n" } else { "" };
            no += 1;
            last_no = no;
            pos = end + 1;
        }
        if indent == 0 {
            return None; // nothing after the indicator
        }
        // the chomping: (clip) the last line of text's line break; (keep) the empty lines too
        if chomp != b'-' {
            value.push_str(last_break);
        }
        if chomp == b'+' {
            for _ in 0..pending {
                value.push('\n');
            }
        }
        self.nodes.push(Node { kind: Kind::Str(value), line: l.no, col: (start - l.base + 1) as u32 });
        // past the content lines (comment-like lines of text were never among them)
        while self.i < self.lines.len() && self.lines[self.i].no <= last_no {
            self.i += 1;
        }
        Some(())
    }

    fn is_dash(&self, at: usize, end: usize) -> bool {
        self.b[at] == b'-' && (at + 1 == end || self.b[at + 1] == b' ')
    }
}
