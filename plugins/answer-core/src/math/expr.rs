//! A small evaluator for the LaTeX of answers: numbers, `+ - * /`, `\cdot`,
//! `\times`, `\div`, powers, `\frac`, `\sqrt[n]{}`, `\pi`, a few functions,
//! brackets and single-letter variables, with implicit multiplication
//! (`2\sqrt{3}`, `3x`). Anything else (`\infty`, `_`, `,`, words) does not
//! parse, and the caller falls back to comparing text.

/// A parsed expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Num(f64),
    Var(char),
    Neg(Box<Expr>),
    Add(Box<Expr>, Box<Expr>),
    Sub(Box<Expr>, Box<Expr>),
    Mul(Box<Expr>, Box<Expr>),
    Div(Box<Expr>, Box<Expr>),
    Pow(Box<Expr>, Box<Expr>),
    /// `\sqrt[index]{radicand}`; index 2 when absent.
    Root(Box<Expr>, Box<Expr>),
    Func(Func, Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Sin,
    Cos,
    Tan,
    Ln,
    Log,
    Exp,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Var(char),
    Pi,
    Plus,
    Minus,
    Times,
    Over,
    Caret,
    Open(u8),
    Close(u8),
    Frac,
    Sqrt,
    Func(Func),
}

/// Deepest nesting accepted; answers are shallow, hostile input is not.
const MAX_DEPTH: usize = 64;

/// Parse `s` completely, or `None`.
pub fn parse(s: &str) -> Option<Expr> {
    let toks = tokenize(s)?;
    if toks.is_empty() {
        return None;
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let e = p.expr()?;
    (p.pos == p.toks.len()).then_some(e)
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' => i += 1,
            b'0'..=b'9' | b'.' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                out.push(Tok::Num(crate::number::value(&s[start..i])?));
            }
            b'a'..=b'z' | b'A'..=b'Z' => {
                out.push(Tok::Var(c as char));
                i += 1;
            }
            b'+' => (out.push(Tok::Plus), i += 1).1,
            b'-' => (out.push(Tok::Minus), i += 1).1,
            b'*' => (out.push(Tok::Times), i += 1).1,
            b'/' => (out.push(Tok::Over), i += 1).1,
            b'^' => (out.push(Tok::Caret), i += 1).1,
            b'(' | b'{' | b'[' => (out.push(Tok::Open(c)), i += 1).1,
            b')' | b'}' | b']' => (out.push(Tok::Close(c)), i += 1).1,
            b'\\' => {
                let end = crate::latex::command_name_end(b, i);
                let tok = match &s[i + 1..end] {
                    "frac" => Tok::Frac,
                    "sqrt" => Tok::Sqrt,
                    "pi" => Tok::Pi,
                    "cdot" | "times" => Tok::Times,
                    "div" => Tok::Over,
                    "sin" => Tok::Func(Func::Sin),
                    "cos" => Tok::Func(Func::Cos),
                    "tan" => Tok::Func(Func::Tan),
                    "ln" => Tok::Func(Func::Ln),
                    "log" => Tok::Func(Func::Log),
                    "exp" => Tok::Func(Func::Exp),
                    _ => return None,
                };
                out.push(tok);
                i = end;
            }
            _ => return None,
        }
    }
    Some(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Option<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let mut e = self.term()?;
        loop {
            if self.eat(&Tok::Plus) {
                e = Expr::Add(Box::new(e), Box::new(self.term()?));
            } else if self.eat(&Tok::Minus) {
                e = Expr::Sub(Box::new(e), Box::new(self.term()?));
            } else {
                break;
            }
        }
        self.depth -= 1;
        Some(e)
    }

    fn term(&mut self) -> Option<Expr> {
        let mut e = self.unary()?;
        loop {
            if self.eat(&Tok::Times) {
                e = Expr::Mul(Box::new(e), Box::new(self.unary()?));
            } else if self.eat(&Tok::Over) {
                e = Expr::Div(Box::new(e), Box::new(self.unary()?));
            } else if self.starts_primary() {
                let rhs = self.power()?;
                e = match (e, rhs) {
                    // `2\frac{1}{4}` is the mixed number 9/4, as written in
                    // school answers, not 2 times 1/4.
                    (Expr::Num(w), Expr::Div(n, d)) if is_mixed(w, &n, &d) => {
                        Expr::Add(Box::new(Expr::Num(w)), Box::new(Expr::Div(n, d)))
                    }
                    (lhs, rhs) => Expr::Mul(Box::new(lhs), Box::new(rhs)),
                };
            } else {
                break;
            }
        }
        Some(e)
    }

    fn starts_primary(&self) -> bool {
        matches!(
            self.peek(),
            Some(
                Tok::Num(_)
                    | Tok::Var(_)
                    | Tok::Pi
                    | Tok::Open(b'(' | b'{')
                    | Tok::Frac
                    | Tok::Sqrt
                    | Tok::Func(_)
            )
        )
    }

    fn unary(&mut self) -> Option<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let e = if self.eat(&Tok::Minus) {
            Expr::Neg(Box::new(self.unary()?))
        } else if self.eat(&Tok::Plus) {
            self.unary()?
        } else {
            self.power()?
        };
        self.depth -= 1;
        Some(e)
    }

    fn power(&mut self) -> Option<Expr> {
        let base = self.primary()?;
        if self.eat(&Tok::Caret) {
            let exp = if self.eat(&Tok::Minus) {
                Expr::Neg(Box::new(self.primary()?))
            } else {
                self.primary()?
            };
            return Some(Expr::Pow(Box::new(base), Box::new(exp)));
        }
        Some(base)
    }

    fn group(&mut self, open: u8, close: u8) -> Option<Expr> {
        if !self.eat(&Tok::Open(open)) {
            return None;
        }
        let e = self.expr()?;
        self.eat(&Tok::Close(close)).then_some(e)
    }

    fn primary(&mut self) -> Option<Expr> {
        let tok = self.peek()?.clone();
        match tok {
            Tok::Num(v) => {
                self.pos += 1;
                Some(Expr::Num(v))
            }
            Tok::Var(c) => {
                self.pos += 1;
                Some(Expr::Var(c))
            }
            Tok::Pi => {
                self.pos += 1;
                Some(Expr::Num(std::f64::consts::PI))
            }
            Tok::Open(b'(') => self.group(b'(', b')'),
            Tok::Open(b'{') => self.group(b'{', b'}'),
            Tok::Frac => {
                self.pos += 1;
                let n = self.group(b'{', b'}')?;
                let d = self.group(b'{', b'}')?;
                Some(Expr::Div(Box::new(n), Box::new(d)))
            }
            Tok::Sqrt => {
                self.pos += 1;
                let index = if self.peek() == Some(&Tok::Open(b'[')) {
                    self.group(b'[', b']')?
                } else {
                    Expr::Num(2.0)
                };
                let radicand = self.group(b'{', b'}')?;
                Some(Expr::Root(Box::new(index), Box::new(radicand)))
            }
            Tok::Func(f) => {
                self.pos += 1;
                // Through `unary`, which counts depth: `\sin\sin...` nests.
                Some(Expr::Func(f, Box::new(self.unary()?)))
            }
            _ => None,
        }
    }
}

fn is_mixed(whole: f64, n: &Expr, d: &Expr) -> bool {
    let int = |e: &Expr| matches!(e, Expr::Num(v) if v.fract() == 0.0 && *v >= 0.0);
    whole.fract() == 0.0 && whole >= 0.0 && int(n) && int(d)
}

impl Expr {
    /// The value with each variable bound by `var`; NaN outside the domain.
    pub fn eval(&self, var: &dyn Fn(char) -> f64) -> f64 {
        let ev = |e: &Expr| e.eval(var);
        match self {
            Expr::Num(v) => *v,
            Expr::Var(c) => var(*c),
            Expr::Neg(a) => -ev(a),
            Expr::Add(a, b) => ev(a) + ev(b),
            Expr::Sub(a, b) => ev(a) - ev(b),
            Expr::Mul(a, b) => ev(a) * ev(b),
            Expr::Div(a, b) => ev(a) / ev(b),
            Expr::Pow(a, b) => ev(a).powf(ev(b)),
            Expr::Root(n, x) => root(ev(x), ev(n)),
            Expr::Func(f, a) => {
                let x = ev(a);
                match f {
                    Func::Sin => x.sin(),
                    Func::Cos => x.cos(),
                    Func::Tan => x.tan(),
                    Func::Ln => x.ln(),
                    Func::Log => x.log10(),
                    Func::Exp => x.exp(),
                }
            }
        }
    }

    /// The variables it uses, sorted, without repeats.
    pub fn vars(&self) -> Vec<char> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out.sort_unstable();
        out.dedup();
        out
    }

    fn collect(&self, out: &mut Vec<char>) {
        match self {
            Expr::Num(_) => {}
            Expr::Var(c) => out.push(*c),
            Expr::Neg(a) | Expr::Func(_, a) => a.collect(out),
            Expr::Add(a, b)
            | Expr::Sub(a, b)
            | Expr::Mul(a, b)
            | Expr::Div(a, b)
            | Expr::Pow(a, b)
            | Expr::Root(a, b) => {
                a.collect(out);
                b.collect(out);
            }
        }
    }
}

/// The real n-th root; odd roots of negatives are negative.
fn root(x: f64, n: f64) -> f64 {
    if x < 0.0 && n.fract() == 0.0 && n % 2.0 != 0.0 {
        -(-x).powf(1.0 / n)
    } else {
        x.powf(1.0 / n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str) -> Option<f64> {
        parse(s).map(|e| e.eval(&|_| f64::NAN))
    }

    #[test]
    fn evaluates_answer_latex() {
        let cases = [
            ("\\frac{1}{2}", 0.5),
            ("-\\frac{3}{4}", -0.75),
            ("2\\sqrt{3}", 2.0 * 3f64.sqrt()),
            ("\\frac{\\sqrt{3}}{2}", 3f64.sqrt() / 2.0),
            ("\\sqrt[3]{-8}", -2.0),
            ("3\\pi", 3.0 * std::f64::consts::PI),
            ("2^{10}", 1024.0),
            ("2^-1", 0.5),
            ("-2^2", -4.0),
            ("(1+2)(3+4)", 21.0),
            ("6\\div4", 1.5),
            ("2\\cdot3", 6.0),
            ("2\\frac{1}{4}", 2.25),
            ("\\log{100}", 2.0),
            ("1/2\\pi", std::f64::consts::PI / 2.0),
        ];
        for (s, want) in cases {
            let got = value(s).unwrap_or_else(|| panic!("{s} does not parse"));
            assert!((got - want).abs() < 1e-12, "{s}: {got} != {want}");
        }
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for s in [
            "",
            "\\infty",
            "1,2",
            "(1",
            "1)",
            "x_2",
            "\\frac{1}",
            "2^",
            "1..2",
            "\\foo",
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
        let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
        assert_eq!(parse(&deep), None);
        assert_eq!(parse(&"-".repeat(10_000)), None);
        assert_eq!(parse(&"\\sin".repeat(10_000)), None);
    }

    #[test]
    fn variables_are_collected() {
        let e = parse("x^2+2xy+y").unwrap();
        assert_eq!(e.vars(), vec!['x', 'y']);
        assert_eq!(e.eval(&|c| if c == 'x' { 1.0 } else { 2.0 }), 7.0);
    }
}
