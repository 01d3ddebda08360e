//! The restricted pickle virtual machine: the opcodes `torch.save` writes, turned into plain
//! values; globals checked against an allow-list; nothing imported, nothing called.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use candle_core::DType;

/// The globals a state dict needs, as `module.name`.
const ALLOWED: &[&str] = &[
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
    "torch._tensor._rebuild_from_type_v2",
    "torch.nn.parameter.Parameter",
    "torch.FloatStorage",
    "torch.DoubleStorage",
    "torch.HalfStorage",
    "torch.BFloat16Storage",
    "torch.LongStorage",
    "torch.IntStorage",
    "torch.ShortStorage",
    "torch.CharStorage",
    "torch.ByteStorage",
    "torch.BoolStorage",
];

/// A pickled dict: its (key, value) pairs in order, shared.
pub(super) type Dict = Rc<RefCell<Vec<(V, V)>>>;

/// A value of the restricted machine.
#[derive(Clone, Debug)]
pub(super) enum V {
    None,
    Bool,
    Int(i64),
    Float,
    Str(Rc<str>),
    Tuple(Rc<Vec<V>>),
    List(Rc<RefCell<Vec<V>>>),
    Dict(Dict),
    Global(Rc<str>),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRef>),
    Mark,
}

#[derive(Debug)]
pub(super) struct StorageRef {
    pub(super) dtype: Option<DType>,
    pub(super) class: String,
    pub(super) key: String,
    pub(super) numel: usize,
}

#[derive(Debug)]
pub(super) struct TensorRef {
    pub(super) storage: Rc<StorageRef>,
    pub(super) offset: usize,
    pub(super) size: Vec<usize>,
    pub(super) stride: Vec<usize>,
}

/// The restricted pickle machine.
#[derive(Default)]
pub(super) struct Machine {
    stack: Vec<V>,
    memo: HashMap<u32, V>,
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        let end =
            end.ok_or_else(|| format!("pickle ends inside an argument at byte {}", self.at))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> std::result::Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn le(&mut self, n: usize) -> std::result::Result<u64, String> {
        Ok(self
            .take(n)?
            .iter()
            .rev()
            .fold(0u64, |a, &b| (a << 8) | u64::from(b)))
    }
    fn line(&mut self) -> std::result::Result<&'a str, String> {
        let rest = &self.b[self.at..];
        let n = rest
            .iter()
            .position(|&c| c == b'\n')
            .ok_or("unterminated line")?;
        let s = std::str::from_utf8(&rest[..n]).map_err(|_| "non-UTF-8 global name")?;
        self.at += n + 1;
        Ok(s)
    }
    fn sized(&mut self, len_bytes: usize) -> std::result::Result<&'a [u8], String> {
        let n = self.le(len_bytes)?;
        self.take(usize::try_from(n).map_err(|_| "length overflows")?)
    }
}

impl Machine {
    fn pop(&mut self) -> std::result::Result<V, String> {
        self.stack
            .pop()
            .ok_or_else(|| "pickle pops an empty stack".into())
    }

    fn pop_mark(&mut self) -> std::result::Result<Vec<V>, String> {
        let at = self.stack.iter().rposition(|v| matches!(v, V::Mark));
        let at = at.ok_or("pickle has no MARK to pop to")?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        Ok(items)
    }

    fn global(&mut self, module: &str, name: &str) -> std::result::Result<(), String> {
        let full = format!("{module}.{name}");
        if !ALLOWED.contains(&full.as_str()) {
            return Err(format!(
                "refused pickle global `{full}`: only PyTorch's tensor-rebuild globals are allowed (nothing was run)"
            ));
        }
        self.stack.push(V::Global(full.into()));
        Ok(())
    }

    /// Runs the pickle to its STOP; the value it returns, or why it was refused.
    // Over 80 lines: one arm per opcode the reader allows (pickletools' table, protocols 0-5),
    // the whole allowlist readable in one place; every other opcode is refused by the last arm.
    pub(super) fn run(mut self, bytes: &[u8]) -> std::result::Result<V, String> {
        let mut c = Cursor { b: bytes, at: 0 };
        loop {
            let at = c.at;
            let op = c.u8()?;
            match op {
                0x80 => {
                    c.u8()?; // PROTO
                }
                0x95 => {
                    c.le(8)?; // FRAME
                }
                b'.' => return self.pop(), // STOP
                b'(' => self.stack.push(V::Mark),
                b'0' => drop(self.pop()?),      // POP
                b'1' => drop(self.pop_mark()?), // POP_MARK
                b'2' => {
                    let top = self.stack.last().cloned().ok_or("DUP of an empty stack")?;
                    self.stack.push(top);
                }
                b'N' => self.stack.push(V::None),
                0x88 => self.stack.push(V::Bool),
                0x89 => self.stack.push(V::Bool),
                b'J' => self.stack.push(V::Int(i64::from(c.le(4)? as u32 as i32))),
                b'K' => self.stack.push(V::Int(i64::from(c.u8()?))),
                b'M' => self.stack.push(V::Int(c.le(2)? as i64)),
                0x8a => {
                    let b = c.sized(1)?;
                    if b.len() > 8 {
                        return Err(format!("integer of {} bytes at byte {at}", b.len()));
                    }
                    let mut v = b.iter().rev().fold(0i64, |a, &x| (a << 8) | i64::from(x));
                    if let Some(&last) = b.last()
                        && last & 0x80 != 0
                        && b.len() < 8
                    {
                        v -= 1i64 << (8 * b.len());
                    }
                    self.stack.push(V::Int(v));
                }
                b'G' => {
                    c.take(8)?;
                    self.stack.push(V::Float);
                }
                b'X' | 0x8c | 0x8d | b'T' | b'U' | b'B' | b'C' | 0x8e => {
                    let len_bytes = match op {
                        0x8c | b'U' | b'C' => 1,
                        0x8d | 0x8e => 8,
                        _ => 4,
                    };
                    let s = c.sized(len_bytes)?;
                    self.stack.push(V::Str(String::from_utf8_lossy(s).into()));
                }
                b')' => self.stack.push(V::Tuple(Rc::new(vec![]))),
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(V::Tuple(Rc::new(items)));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n {
                        return Err(format!("TUPLE{n} of a short stack at byte {at}"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(V::Tuple(Rc::new(items)));
                }
                b']' => self.stack.push(V::List(Rc::default())),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(V::List(Rc::new(RefCell::new(items))));
                }
                b'a' | b'e' => {
                    let items = if op == b'a' {
                        vec![self.pop()?]
                    } else {
                        self.pop_mark()?
                    };
                    match self.stack.last() {
                        Some(V::List(l)) => l.borrow_mut().extend(items),
                        _ => return Err(format!("APPEND to a non-list at byte {at}")),
                    }
                }
                b'}' => self.stack.push(V::Dict(Rc::default())),
                b'd' | b's' | b'u' => {
                    let items = match op {
                        b'd' | b'u' => self.pop_mark()?,
                        _ => {
                            let v = self.pop()?;
                            vec![self.pop()?, v]
                        }
                    };
                    if items.len() % 2 != 0 {
                        return Err(format!("odd number of dict items at byte {at}"));
                    }
                    let mut it = items.into_iter();
                    let pairs: Vec<(V, V)> =
                        std::iter::from_fn(|| Some((it.next()?, it.next()?))).collect();
                    if op == b'd' {
                        self.stack.push(V::Dict(Rc::new(RefCell::new(pairs))));
                    } else {
                        match self.stack.last() {
                            Some(V::Dict(d)) => d.borrow_mut().extend(pairs),
                            _ => return Err(format!("SETITEM on a non-dict at byte {at}")),
                        }
                    }
                }
                b'q' | b'r' | 0x94 => {
                    let id = match op {
                        b'q' => u32::from(c.u8()?),
                        b'r' => c.le(4)? as u32,
                        _ => self.memo.len() as u32,
                    };
                    let top = self.stack.last().cloned().ok_or("PUT of an empty stack")?;
                    self.memo.insert(id, top);
                }
                b'h' | b'j' => {
                    let id = if op == b'h' {
                        u32::from(c.u8()?)
                    } else {
                        c.le(4)? as u32
                    };
                    let v = self
                        .memo
                        .get(&id)
                        .cloned()
                        .ok_or_else(|| format!("memo {id} is empty"))?;
                    self.stack.push(v);
                }
                b'c' => {
                    let (m, n) = (c.line()?, c.line()?);
                    self.global(m, n)?;
                }
                0x93 => {
                    let (n, m) = (self.pop()?, self.pop()?);
                    let (V::Str(m), V::Str(n)) = (m, n) else {
                        return Err(format!("STACK_GLOBAL of a computed name at byte {at}"));
                    };
                    self.global(&m, &n)?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    self.stack.push(persistent(pid)?);
                }
                b'R' => {
                    let (args, f) = (self.pop()?, self.pop()?);
                    self.stack.push(reduce(f, args)?);
                }
                b'b' => drop(self.pop()?), // BUILD: state of an OrderedDict or a Parameter
                other => {
                    return Err(format!(
                        "unsupported pickle opcode 0x{other:02x} at byte {at} (only what torch.save writes is read)"
                    ));
                }
            }
        }
    }
}

fn persistent(pid: V) -> std::result::Result<V, String> {
    let bad = || "a persistent id that is not a storage".to_string();
    let V::Tuple(t) = pid else { return Err(bad()) };
    let (Some(V::Str(kind)), Some(V::Global(class)), Some(V::Str(key)), Some(V::Int(numel))) =
        (t.first(), t.get(1), t.get(2), t.get(4))
    else {
        return Err(bad());
    };
    if &**kind != "storage" || *numel < 0 {
        return Err(bad());
    }
    let class = class.trim_start_matches("torch.").to_string();
    let dtype = match class.as_str() {
        "FloatStorage" => Some(DType::F32),
        "DoubleStorage" => Some(DType::F64),
        "HalfStorage" => Some(DType::F16),
        "BFloat16Storage" => Some(DType::BF16),
        "LongStorage" => Some(DType::I64),
        "ByteStorage" => Some(DType::U8),
        _ => None,
    };
    Ok(V::Storage(Rc::new(StorageRef {
        dtype,
        class,
        key: key.to_string(),
        numel: *numel as usize,
    })))
}

fn ints(v: Option<&V>) -> std::result::Result<Vec<usize>, String> {
    let Some(V::Tuple(t)) = v else {
        return Err("a tensor's size or stride is not a tuple".into());
    };
    t.iter()
        .map(|x| match x {
            V::Int(i) if *i >= 0 => Ok(*i as usize),
            _ => Err("a negative or non-integer size or stride".to_string()),
        })
        .collect()
}

/// Applies an allowed callable to its arguments, symbolically.
fn reduce(f: V, args: V) -> std::result::Result<V, String> {
    let V::Global(name) = f else {
        return Err("REDUCE of something that is not an allowed global".into());
    };
    let V::Tuple(a) = args else {
        return Err(format!("{name} called without an argument tuple"));
    };
    match &*name {
        "collections.OrderedDict" => Ok(V::Dict(Rc::default())),
        "torch._utils._rebuild_tensor" | "torch._utils._rebuild_tensor_v2" => {
            let (Some(V::Storage(s)), Some(V::Int(off))) = (a.first(), a.get(1)) else {
                return Err(format!("{name} without a storage and an offset"));
            };
            if *off < 0 {
                return Err("negative storage offset".into());
            }
            Ok(V::Tensor(Rc::new(TensorRef {
                storage: s.clone(),
                offset: *off as usize,
                size: ints(a.get(2))?,
                stride: ints(a.get(3))?,
            })))
        }
        "torch._utils._rebuild_parameter" => match a.first() {
            Some(t @ V::Tensor(_)) => Ok(t.clone()),
            _ => Err("a parameter without a tensor".into()),
        },
        "torch._tensor._rebuild_from_type_v2" => match (a.first(), a.get(2)) {
            (Some(f), Some(inner)) => reduce(f.clone(), inner.clone()),
            _ => Err("_rebuild_from_type_v2 with too few arguments".into()),
        },
        other => Err(format!("{other} cannot be called here")),
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
