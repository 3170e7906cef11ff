//! `tokenmint keys`: the signing keys, listed or rotated by hand (the rotate function does
//! the same on a schedule).

use tokenmint::rotation::{self, Schedule, Step};
use tokenmint::{Clock, SystemClock, setup};

use crate::args::KeysCommand;
use crate::context::Context;
use crate::error::Result;
use crate::output::{KeyView, print_json, print_list};

pub async fn run(cmd: KeysCommand, ctx: &Context) -> Result<()> {
    match cmd {
        KeysCommand::List { json } => {
            let keys = ctx.stores.keys.list_keys().await?;
            print_list(&keys.iter().map(KeyView::from).collect::<Vec<_>>(), json)
        }
        KeysCommand::Rotate => rotate(ctx).await,
    }
}

async fn rotate(ctx: &Context) -> Result<()> {
    let source = setup::next_key_source(&ctx.config).await?;
    let schedule = Schedule::from_config(&ctx.config);
    let keys = ctx.stores.keys.as_ref();
    let steps = rotation::rotate(keys, source.as_ref(), &schedule, SystemClock.now(), true).await?;
    print_json(&steps)?;
    if steps.iter().any(|s| matches!(s, Step::Published { .. })) {
        eprintln!(
            "the next key is published; run keys rotate again after {}s to promote it",
            schedule.publish_lead
        );
    }
    Ok(())
}
