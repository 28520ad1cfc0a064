//! Plain prompts (the question, the strategy, the executors' answers) that the
//! simulated world understands.
use econ_plugin_sdk::prompt_template::bindings::exports::econ::plugins::templates::Guest;
use econ_plugin_sdk::prompt_template::*;

struct Hostile;

impl PromptTemplate for Hostile {
    fn manifest() -> Manifest {
        Manifest::new(
            "test-hostile-prompt",
            "0.1.0",
            "misbehaves on HOSTILE:<what> questions",
        )
    }

    fn render(ctx: &PromptContext) -> Result<Vec<ChatMessage>, String> {
        let mut text = format!("Question:\n{}\n", ctx.question);
        if !ctx.strategy.is_empty() {
            text.push_str(&format!("Strategy: {}\n", ctx.strategy));
        }
        for output in &ctx.executor_outputs {
            text.push_str(&format!("An answer: {output}\n"));
        }
        Ok(vec![system("You solve problems."), user(text)])
    }
}

// By hand rather than with the SDK's macro: `short` and `alias` change the
// shape of the whole batch.
econ_plugin_sdk::__impl_meta!(prompt_template, PromptTemplate, Hostile, PromptTemplate);

impl Guest for Hostile {
    fn render(contexts: Vec<PromptContext>) -> Vec<Result<Vec<ChatMessage>, String>> {
        let what = crate::first_what(contexts.iter().map(|c| c.question.as_str()));
        crate::act(what, "render");
        let mut out: Vec<_> = contexts
            .iter()
            .map(<Hostile as PromptTemplate>::render)
            .collect();
        match what {
            "short" => {
                out.pop();
            }
            "alias" => {
                for messages in out.iter_mut().flatten() {
                    messages.extend(crate::aliases(1000).into_iter().map(user));
                }
            }
            _ => {}
        }
        out
    }
}

econ_plugin_sdk::prompt_template::bindings::__export_prompt_template!(Hostile);
