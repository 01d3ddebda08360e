//! JPEG decoding with libjpeg-turbo's own code (vendored by mozjpeg-sys), configured as PIL
//! configures it, so that the pixels equal what the reference loaders read.
//!
//! PIL (`JpegImagePlugin.py` + `JpegDecode.c`) leaves libjpeg's defaults: the ISLOW integer IDCT
//! and "fancy" (triangle-filter) chroma upsampling; it asks for RGB output, keeps greyscale as
//! `L` (replicated by `convert("RGB")`), and reads CMYK/YCCK files as inverted Adobe CMYK
//! (`rawmode = "CMYK;I"`), converted by `Convert.c:cmyk2rgb`. A file that ends early is an error
//! there ("image file is truncated"), and so it is here; libjpeg's other warnings are ignored, as
//! PIL ignores them.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use image::RgbImage;
use image::metadata::Orientation;
use mozjpeg_sys as sys;

use super::limits::Limits;

/// A decoded JPEG and the EXIF orientation it declares.
pub struct Decoded {
    /// The pixels, exactly as PIL decodes them (orientation not applied).
    pub rgb: RgbImage,
    /// The EXIF orientation tag, when the file has one.
    pub orientation: Option<Orientation>,
}

/// libjpeg's error manager, with what our handlers record.
#[repr(C)]
struct ErrorMgr {
    base: sys::jpeg_error_mgr,
    truncated: bool,
}

/// Carries a libjpeg error message out of C through an unwind (no panic hook runs).
struct JpegFailure(String);

unsafe extern "C-unwind" fn error_exit(cinfo: &mut sys::jpeg_common_struct) {
    let buf = [0u8; 80];
    // SAFETY: `err` points at our ErrorMgr for the whole life of `cinfo`.
    unsafe {
        if let Some(format) = (*cinfo.err).format_message {
            format(cinfo, &buf);
        }
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let msg = String::from_utf8_lossy(&buf[..end]).into_owned();
    resume_unwind(Box::new(JpegFailure(msg)));
}

unsafe extern "C-unwind" fn emit_message(cinfo: &mut sys::jpeg_common_struct, level: i32) {
    if level < 0 {
        // SAFETY: as in `error_exit`; the ErrorMgr starts with the libjpeg struct.
        let err = unsafe { &mut *(cinfo.err as *mut ErrorMgr) };
        err.base.num_warnings += 1;
        if err.base.msg_code == sys::JWRN_JPEG_EOF {
            err.truncated = true;
        }
    }
}

/// Decodes a JPEG held in memory. Dimensions are checked against `limits` from the header,
/// before any pixel buffer exists; libjpeg's own working memory is capped by them too.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Decoded, String> {
    if bytes.is_empty() {
        return Err("empty file".into());
    }
    let mut err: Box<ErrorMgr> = Box::new(ErrorMgr {
        // SAFETY: a zeroed jpeg_error_mgr is what jpeg_std_error initialises.
        base: unsafe { std::mem::zeroed() },
        truncated: false,
    });
    // SAFETY: zeroed, then initialised by jpeg_create_decompress before any use.
    let mut cinfo: Box<sys::jpeg_decompress_struct> = Box::new(unsafe { std::mem::zeroed() });
    // SAFETY: the error manager and cinfo live in boxes for the whole decode; every libjpeg
    // error unwinds out of C through `error_exit` (C-unwind, compiled with -fexceptions) and is
    // caught below, after which cinfo is destroyed exactly once.
    unsafe {
        cinfo.common.err = sys::jpeg_std_error(&mut err.base);
    }
    err.base.error_exit = Some(error_exit);
    err.base.emit_message = Some(emit_message);
    let result = catch_unwind(AssertUnwindSafe(|| unsafe {
        sys::jpeg_create_decompress(&mut *cinfo);
        run(&mut cinfo, bytes, limits)
    }));
    // SAFETY: created above (a failure inside jpeg_create_decompress leaves a zeroed struct,
    // which jpeg_destroy_decompress treats as empty).
    unsafe { sys::jpeg_destroy_decompress(&mut cinfo) };
    let decoded = match result {
        Ok(r) => r?,
        Err(payload) => {
            return Err(match payload.downcast::<JpegFailure>() {
                Ok(f) => f.0,
                Err(_) => "the JPEG decoder failed".into(),
            });
        }
    };
    if err.truncated {
        return Err("image file is truncated".into());
    }
    Ok(decoded)
}

/// The decode proper; libjpeg errors unwind out of it.
unsafe fn run(
    cinfo: &mut sys::jpeg_decompress_struct,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Decoded, String> {
    unsafe {
        sys::jpeg_mem_src(cinfo, bytes.as_ptr(), bytes.len() as _);
        sys::jpeg_save_markers(cinfo, 0xE1, 0xFFFF);
        sys::jpeg_read_header(cinfo, 1);
    }
    let (w, h) = (cinfo.image_width, cinfo.image_height);
    use sys::J_COLOR_SPACE as Cs;
    let (out, channels) = match cinfo.jpeg_color_space {
        Cs::JCS_GRAYSCALE => (Cs::JCS_GRAYSCALE, 1),
        Cs::JCS_CMYK | Cs::JCS_YCCK => (Cs::JCS_CMYK, 4),
        _ => (Cs::JCS_RGB, 3),
    };
    // Output rows plus, for progressive or buffered files, libjpeg's whole-image coefficient
    // arrays (2 bytes per coefficient per component).
    let comps = cinfo.num_components.max(1) as u64;
    limits.check(u64::from(w), u64::from(h), channels)?;
    limits.check(u64::from(w), u64::from(h), 2 * comps)?;
    cinfo.out_color_space = out;
    cinfo.dct_method = sys::J_DCT_METHOD::JDCT_ISLOW;
    cinfo.do_fancy_upsampling = 1;
    // SAFETY: `mem` is set by jpeg_create_decompress.
    unsafe {
        (*cinfo.common.mem).max_memory_to_use = limits.max_bytes.min(i64::MAX as u64) as _;
    }
    let orientation = exif_orientation(cinfo);
    unsafe { sys::jpeg_start_decompress(cinfo) };
    let (ow, oh) = (cinfo.output_width as usize, cinfo.output_height as usize);
    let stride = ow * channels as usize;
    let mut raw = vec![0u8; stride * oh];
    while (cinfo.output_scanline as usize) < oh {
        let row = cinfo.output_scanline as usize;
        let mut ptr = raw[row * stride..].as_mut_ptr();
        // SAFETY: one row of `stride` bytes is writable at `ptr`.
        let got = unsafe { sys::jpeg_read_scanlines(cinfo, &mut ptr, 1) };
        if got == 0 {
            return Err("the JPEG decoder stopped before the last row".into());
        }
    }
    unsafe { sys::jpeg_finish_decompress(cinfo) };
    let rgb = match channels {
        1 => raw.iter().flat_map(|&v| [v, v, v]).collect(),
        4 => raw.chunks_exact(4).flat_map(cmyk_inverted_to_rgb).collect(),
        _ => raw,
    };
    let rgb = RgbImage::from_raw(ow as u32, oh as u32, rgb)
        .ok_or_else(|| "decoded buffer of the wrong size".to_string())?;
    Ok(Decoded { rgb, orientation })
}

/// Pillow's `cmyk2rgb` on the inverted (Adobe) samples libjpeg returns: with c = 255 − raw,
/// R = clip(nk − c·nk/255) where nk = 255 − k, and `MULDIV255` rounding.
fn cmyk_inverted_to_rgb(px: &[u8]) -> [u8; 3] {
    let [c, m, y, k] = [255 - px[0], 255 - px[1], 255 - px[2], 255 - px[3]].map(i32::from);
    let nk = 255 - k;
    let muldiv255 = |a: i32, b: i32| {
        let t = a * b + 128;
        ((t >> 8) + t) >> 8
    };
    [c, m, y].map(|v| (nk - muldiv255(v, nk)).clamp(0, 255) as u8)
}

/// The orientation tag of the first APP1 "Exif" segment, if any.
fn exif_orientation(cinfo: &sys::jpeg_decompress_struct) -> Option<Orientation> {
    let mut m = cinfo.marker_list;
    while !m.is_null() {
        // SAFETY: libjpeg's saved-marker list, alive until the decompressor is destroyed.
        let marker = unsafe { &*m };
        if marker.marker == 0xE1 && !marker.data.is_null() {
            // SAFETY: `data_length` bytes are saved at `data`.
            let data =
                unsafe { std::slice::from_raw_parts(marker.data, marker.data_length as usize) };
            if let Some(tiff) = data.strip_prefix(b"Exif\0\0") {
                return Orientation::from_exif_chunk(tiff);
            }
        }
        m = marker.next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_truncation_are_errors_not_panics() {
        let l = Limits::default();
        assert!(decode(b"", &l).is_err());
        assert!(decode(b"\xFF\xD8\xFF\xE0 not really", &l).is_err());
        let mut jpeg = vec![];
        image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * y) as u8, (x * 9) as u8, 30])
        })
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
        let whole = decode(&jpeg, &l).unwrap();
        assert_eq!(whole.rgb.dimensions(), (64, 48));
        let e = decode(&jpeg[..jpeg.len() * 3 / 4], &l).err().unwrap();
        assert!(e.contains("truncated"), "{e}");
        let tiny = Limits {
            max_bytes: 1000,
            max_side: 100,
        };
        let e = decode(&jpeg, &tiny).err().unwrap();
        assert!(e.contains("64x48"), "{e}");
    }

    #[test]
    fn cmyk_conversion_is_pillows() {
        // Pure white (no ink) and pure black (full K), stored inverted.
        assert_eq!(cmyk_inverted_to_rgb(&[255, 255, 255, 255]), [255, 255, 255]);
        assert_eq!(cmyk_inverted_to_rgb(&[255, 255, 255, 0]), [0, 0, 0]);
        assert_eq!(cmyk_inverted_to_rgb(&[0, 255, 255, 255]), [0, 255, 255]);
    }
}
