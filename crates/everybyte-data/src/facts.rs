//! What the scan's passes find out, for the rules to judge: a file's size and sniffed kind, an
//! image's walked structure and decode result, a table's and each column's counts, an array's
//! header and NaN/inf counts, and over the whole scan the colour modes and the groups of equal
//! content. The passes do the reading; each rule (`rules/*.rs`) judges one kind of fact.

use everybyte_core::Location;
use everybyte_core::safetensors::SafetensorsError;

use crate::array::NonFinite;
use crate::error::{DecodeError, NpyError};
use crate::image::{Fault, ImageInfo};
use crate::scan::Kind;
use crate::table::{Column, TableScan};

/// One fact, about the file `rel`. A scanning thread keeps one and refills it from file to file
/// (the path's buffer is reused), so judging a file allocates nothing unless a rule fires.
#[derive(Debug, Default)]
pub struct Facts {
    /// The file's path as findings show it (relative to the scan's root).
    pub rel: String,
    pub fact: Fact,
}

impl Facts {
    /// The location of the whole file.
    pub fn at(&self) -> Location {
        Location::file(self.rel.clone())
    }

    /// A line of the file.
    pub fn line(&self, line: u64) -> Location {
        Location::line(self.rel.clone(), line, 1)
    }
}

/// What a pass found.
#[derive(Debug, Default)]
pub enum Fact {
    /// Nothing to judge (between files).
    #[default]
    Nothing,
    File(FileFacts),
    Image(ImageFacts),
    /// A CSV, TSV or JSON Lines file as a whole (its columns are judged one by one, as
    /// [`Fact::Column`]).
    Table(TableScan),
    Column(Column),
    Array(ArrayFacts),
    /// The colour modes of the images of the scan.
    ColorModes(ColorModes),
    /// The files of the scan grouped by content hash (each group in path order).
    SameContent(Vec<Vec<String>>),
}

/// A file's size and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFacts {
    pub size: u64,
    /// From the first bytes (`None` for an empty file or one no magic matches).
    pub sniffed: Option<Kind>,
    /// From the extension.
    pub extension: Option<Kind>,
}

/// An image walked structure by structure, and decoded where the scan decodes.
#[derive(Debug)]
pub struct ImageFacts {
    pub kind: Kind,
    pub structure: Result<ImageInfo, Fault>,
    /// The full decode's result, when the image was decoded (`--decode`, within the pixel
    /// limit).
    pub decoded: Option<Result<(), DecodeError>>,
    /// The pixel limit of the scan.
    pub max_pixels: u64,
}

/// An array file's header, or what is wrong with it, and its NaN/inf counts.
#[derive(Debug, Default)]
pub struct ArrayFacts {
    pub fault: Option<ArrayFault>,
    /// One count per float array read: the `.npy` array, or each float tensor.
    pub nonfinite: Vec<NonFiniteCount>,
}

/// What is wrong with an array file.
#[derive(Debug)]
pub enum ArrayFault {
    Npy(NpyError),
    /// The safetensors header could not be read.
    SafetensorsUnreadable(std::io::Error),
    Safetensors(SafetensorsError),
}

/// The NaN and inf values of one float array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonFiniteCount {
    /// The tensor's name (a safetensors file), `None` for an `.npy` array.
    pub tensor: Option<String>,
    /// The element type as the finding names it (`float32`, `F16`).
    pub dtype: String,
    pub elements: u64,
    pub counts: NonFinite,
}

/// The images of a scan grouped by colour mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColorModes {
    /// The number of images with a known mode.
    pub total: usize,
    /// Each mode (`RGB`, `16-bit RGB`, `CMYK`) with its number of images, in mode order.
    pub groups: Vec<ModeGroup>,
    /// The index in `groups` of the most common mode.
    pub dominant: usize,
}

/// The images of one colour mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModeGroup {
    pub mode: String,
    pub count: usize,
    /// Their paths, in path order; left empty for the dominant mode, which no rule lists.
    pub files: Vec<String>,
}
