//! open_clip's timm vision towers (`vision_cfg.timm_model_name`): the ones clipscope decomposes,
//! and one line naming what it does not for the rest.

use super::eva;
use super::json::Obj;
use super::{Activation, TowerConfig, VisionConfig};
use crate::{Error, Result};

/// The vision tower of an open_clip config that names a timm model. The sizes are the named
/// model's until the weights give theirs (the Eva tower's `load`).
pub(super) fn vision(vobj: &Obj, name: &str) -> Result<VisionConfig> {
    let arch = eva::find(name).ok_or_else(|| {
        Error::config(
            vobj.path,
            format!(
                "`{}` = {name:?} is not supported (timm towers clipscope decomposes: {})",
                vobj.key("timm_model_name"),
                eva::names().join(", ")
            ),
        )
    })?;
    // open_clip's defaults are `avg` and `linear`; these towers are built with their own pool
    // (`token`, PE-Core's `map`) and no extra projection (the trunk's head resized to the
    // embedding).
    let pool = vobj.opt_str("timm_pool")?.unwrap_or("avg");
    if pool != arch.pool.name() {
        return Err(Error::config(
            vobj.path,
            format!(
                "`{}` = {pool:?} is not supported for {name} (only {:?})",
                vobj.key("timm_pool"),
                arch.pool.name()
            ),
        ));
    }
    if !matches!(vobj.map.get("timm_proj"), Some(serde_json::Value::Null)) {
        return Err(Error::config(
            vobj.path,
            format!(
                "`{}` other than null (an extra projection after the trunk) is not supported",
                vobj.key("timm_proj")
            ),
        ));
    }
    let tower = TowerConfig {
        width: arch.width,
        layers: arch.depth,
        heads: arch.heads,
        mlp_dim: arch.mlp_dim,
        activation: if arch.swiglu {
            Activation::Silu
        } else {
            Activation::Gelu
        },
        eps: arch.eps,
    };
    let image_size = vobj.square_side("image_size")?;
    if image_size < arch.patch {
        return Err(Error::config(
            vobj.path,
            format!(
                "`{}` {image_size} is smaller than {name}'s patch {}",
                vobj.key("image_size"),
                arch.patch
            ),
        ));
    }
    Ok(VisionConfig {
        ln_pre: arch.norm_pre,
        eva: Some(arch.clone()),
        ..VisionConfig::vit(tower, image_size, arch.patch, arch.class_token)
    })
}
