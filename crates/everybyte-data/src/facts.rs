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
    /// A compressed stream, record file, tar shard or columnar file that breaks.
    Container(ContainerFault),
    /// Fields most records of a file have and some lack.
    Fields(FieldGaps),
    /// Sample keys a WebDataset shard holds more than once.
    DuplicateKeys(DuplicateKeys),
    /// A Parquet file's statistics that contradict its data, described.
    Statistics(Vec<String>),
    /// The columns whose type differs between the columnar files of one folder.
    SchemaDrift(Vec<ColumnDrift>),
    /// A `datasets.save_to_disk` folder whose metadata disagrees with its Arrow files.
    SavedDataset(SavedDataset),
}

/// What a saved dataset's `state.json` and `dataset_info.json` say that its files do not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedDataset {
    /// The `state.json`, as findings show it.
    pub folder: String,
    /// Data files `state.json` lists that are not there.
    pub missing: Vec<String>,
    /// The split, the rows `dataset_info.json` gives it, and the rows its files hold.
    pub rows: Option<(String, u64, u64)>,
    /// The `dataset_info.json`, as findings show it.
    pub info: String,
}

/// One column's types across a folder's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDrift {
    pub column: String,
    /// Each type, with the number of files that have it and the first of them.
    pub types: Vec<(String, usize, String)>,
}

/// The keys a shard holds twice: members of one sample apart from each other, or one member
/// written twice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DuplicateKeys {
    pub count: u64,
    /// The first few, as `key` or `key.ext`.
    pub examples: Vec<String>,
}

/// Where a container file breaks: a stream cut short, a checksum that fails, a header that
/// does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFault {
    /// `gzip`, `zstd`, `TFRecord`, `tar`, `Parquet`, `Arrow IPC`.
    pub format: &'static str,
    /// What is wrong, with the record or member and the byte where it is known.
    pub message: String,
    /// The line of the content where it broke (a compressed table), for the location.
    pub line: Option<u64>,
}

/// Records (lines, `tf.train.Example`s, a shard's samples) that lack a field most of the
/// file's records have.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldGaps {
    /// What a record is: `line`, `record`, `sample`.
    pub unit: &'static str,
    /// What a field is: `key`, `feature`, `member`.
    pub field: &'static str,
    /// The records read.
    pub records: u64,
    pub gaps: Vec<FieldGap>,
}

/// One field, and the records without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldGap {
    pub name: String,
    /// The records that have it.
    pub present: u64,
    pub missing: u64,
    /// The first record without it, as the finding names it (`line 4`, `sample n01_0003`).
    pub first: String,
    /// Its line, where records are lines.
    pub line: Option<u64>,
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
