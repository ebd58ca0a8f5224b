//! Parquet and Arrow IPC files read column by column from their data, not from their
//! statistics (which may be absent or wrong): per column the nulls and, for float columns, the
//! NaN and inf values, each with the first row (counted from 0, as `df.iloc` counts); the
//! schema, for the columns whose type differs between the files of one dataset; and a Parquet
//! file's statistics checked against the data they describe.
//!
//! Streaming: a Parquet file is read one column chunk at a time, page by page, in batches of
//! 64 Ki values (with the page CRCs checked where the writer wrote them); an Arrow IPC file one
//! record batch at a time. Memory per thread: one page and one batch, or one record batch.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use parquet::basic::{LogicalType, Type as PhysicalType};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::DataType;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::statistics::Statistics;

use crate::table::Column;

/// What a read of a columnar file found.
#[derive(Debug, Default)]
pub struct ColumnarScan {
    /// Where the file breaks, described; the columns hold what was read before it.
    pub fault: Option<String>,
    pub rows: u64,
    /// One per leaf column, `by_row`.
    pub columns: Vec<Column>,
    /// Each leaf column's name and type, for the dataset's schema.
    pub schema: Vec<(String, String)>,
    /// Statistics that contradict the data, described.
    pub stats: Vec<String>,
}

const BATCH: usize = 64 << 10;

/// Reads a Parquet file.
pub fn scan_parquet(path: &Path) -> std::io::Result<ColumnarScan> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut out = ColumnarScan::default();
    match parquet_frame(&file, len)? {
        Frame::Plain => {}
        // An encrypted footer (`PARE`) is read with keys this scan does not have: not a fault.
        Frame::Encrypted => return Ok(out),
        Frame::Fault(fault) => {
            out.fault = Some(fault);
            return Ok(out);
        }
    }
    let reader = match SerializedFileReader::new(file) {
        Ok(r) => r,
        Err(e) => {
            out.fault = Some(format!("the footer does not parse: {e}"));
            return Ok(out);
        }
    };
    let md = reader.metadata();
    let schema = md.file_metadata().schema_descr();
    for c in schema.columns() {
        out.columns.push(Column {
            name: c.path().string(),
            by_row: true,
            declared: Some(declared(c)),
            ..Column::default()
        });
        out.schema.push((c.path().string(), parquet_type(c)));
    }
    let mut row_base = 0u64;
    for g in 0..reader.num_row_groups() {
        let rg = match reader.get_row_group(g) {
            Ok(rg) => rg,
            Err(e) => {
                out.fault = Some(format!("row group {g}: {e}"));
                return Ok(out);
            }
        };
        let rows = u64::try_from(rg.metadata().num_rows()).unwrap_or(0);
        for (i, col) in out.columns.iter_mut().enumerate() {
            let descr = schema.column(i);
            let chunk = rg.metadata().column(i);
            // Integers are numbers unless their logical type makes them dates, times or
            // decimals.
            let plain_int = declared(&descr) == "int";
            let levels = Levels {
                max_def: descr.max_def_level(),
                max_rep: descr.max_rep_level(),
                row_base,
                plain_int,
                // A field inside a struct is null when its parent is: its nulls are the
                // parent's, not a numeric column's.
                top_level: descr.path().parts().len() == 1,
                float16: matches!(descr.logical_type_ref(), Some(LogicalType::Float16)),
            };
            let read = rg
                .get_column_reader(i)
                .and_then(|r| read_column(r, &levels, col));
            match read {
                Ok(mut seen) => {
                    // An unsigned column's values come back as signed integers: its minimum
                    // and maximum are not compared.
                    if is_unsigned(&descr) {
                        seen.min = None;
                        seen.max = None;
                    }
                    if let Some(s) = chunk.statistics() {
                        check_statistics(s, &seen, &col.name, g, &mut out.stats);
                    }
                }
                Err(e) => {
                    let e = e.to_string();
                    let e = e.strip_prefix("Parquet error: ").unwrap_or(&e);
                    out.fault = Some(format!("column `{}`, row group {g}: {e}", col.name));
                    out.rows = row_base;
                    return Ok(out);
                }
            }
        }
        row_base += rows;
    }
    out.rows = row_base;
    Ok(out)
}

/// What the ends of a Parquet file say.
enum Frame {
    Plain,
    /// Parquet Modular Encryption's encrypted footer (`PARE`).
    Encrypted,
    Fault(String),
}

/// The magic at both ends and the footer's length, before any reader trusts them.
fn parquet_frame(file: &File, len: u64) -> std::io::Result<Frame> {
    if len < 12 {
        return Ok(Frame::Fault(format!(
            "the file is {len} bytes: too short for Parquet's magic and footer (cut short)"
        )));
    }
    let mut head = [0u8; 4];
    file.read_exact_at(&mut head, 0)?;
    let mut tail = [0u8; 8];
    file.read_exact_at(&mut tail, len - 8)?;
    if &head == b"PARE" && &tail[4..] == b"PARE" {
        return Ok(Frame::Encrypted);
    }
    if &head != b"PAR1" {
        return Ok(Frame::Fault(
            "the file does not start with the magic `PAR1`".to_owned(),
        ));
    }
    if &tail[4..] != b"PAR1" {
        return Ok(Frame::Fault(
            "the file does not end with the magic `PAR1`: cut short, and the footer (the schema and every row group's place) is lost with its end"
                .to_owned(),
        ));
    }
    let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if footer + 12 > len {
        return Ok(Frame::Fault(format!(
            "the footer's length ({footer} bytes) reaches past the start of a {len}-byte file"
        )));
    }
    Ok(Frame::Plain)
}

/// What a column chunk's data holds, for its statistics.
#[derive(Debug, Default)]
struct Seen {
    nulls: u64,
    /// Whether nulls were counted (not for repeated columns).
    nulls_counted: bool,
    /// The smallest and largest non-NaN value, for float and integer columns.
    min: Option<f64>,
    max: Option<f64>,
}

fn read_column(r: ColumnReader, ctx: &Levels, col: &mut Column) -> parquet::errors::Result<Seen> {
    let mut seen = Seen {
        nulls_counted: ctx.max_rep == 0,
        ..Seen::default()
    };
    let int_ok = ctx.plain_int;
    match r {
        ColumnReader::FloatColumnReader(mut r) => {
            read_values(&mut r, ctx, col, &mut seen, |v, row, col, seen| {
                float(f64::from(*v), row, col, seen);
            })
        }
        ColumnReader::DoubleColumnReader(mut r) => {
            read_values(&mut r, ctx, col, &mut seen, |v, row, col, seen| {
                float(*v, row, col, seen);
            })
        }
        ColumnReader::Int32ColumnReader(mut r) => {
            read_values(&mut r, ctx, col, &mut seen, |v, _, col, seen| {
                if int_ok {
                    int(f64::from(*v), col, seen);
                }
            })
        }
        ColumnReader::Int64ColumnReader(mut r) => {
            read_values(&mut r, ctx, col, &mut seen, |v, _, col, seen| {
                if int_ok {
                    int(*v as f64, col, seen);
                }
            })
        }
        ColumnReader::BoolColumnReader(mut r) => {
            read_values(&mut r, ctx, col, &mut seen, |_, _, _, _| {})
        }
        ColumnReader::Int96ColumnReader(mut r) => {
            read_values(&mut r, ctx, col, &mut seen, |_, _, _, _| {})
        }
        ColumnReader::ByteArrayColumnReader(mut r) => {
            read_values(&mut r, ctx, col, &mut seen, |_, _, _, _| {})
        }
        ColumnReader::FixedLenByteArrayColumnReader(mut r) => {
            let half = ctx.float16;
            read_values(&mut r, ctx, col, &mut seen, |v, row, col, seen| {
                if half && let [lo, hi] = v.data() {
                    float(f16_to_f64(u16::from_le_bytes([*lo, *hi])), row, col, seen);
                }
            })
        }
    }?;
    Ok(seen)
}

/// An IEEE half float's value.
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h >> 15 == 1 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f64::from(h & 0x3ff);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

/// The type a Parquet column declares, as a table's column is typed: `int` for integers that
/// are numbers, `float` for floating point, `string` for everything else.
fn declared(c: &parquet::schema::types::ColumnDescriptor) -> &'static str {
    match c.physical_type() {
        PhysicalType::FLOAT | PhysicalType::DOUBLE => "float",
        PhysicalType::FIXED_LEN_BYTE_ARRAY
            if matches!(c.logical_type_ref(), Some(LogicalType::Float16)) =>
        {
            "float"
        }
        PhysicalType::INT32 | PhysicalType::INT64
            if matches!(c.logical_type_ref(), None | Some(LogicalType::Integer(_)))
                && !matches!(
                    c.converted_type(),
                    parquet::basic::ConvertedType::DATE
                        | parquet::basic::ConvertedType::DECIMAL
                        | parquet::basic::ConvertedType::TIME_MILLIS
                        | parquet::basic::ConvertedType::TIME_MICROS
                        | parquet::basic::ConvertedType::TIMESTAMP_MILLIS
                        | parquet::basic::ConvertedType::TIMESTAMP_MICROS
                ) =>
        {
            "int"
        }
        _ => "string",
    }
}

fn float(v: f64, row: u64, col: &mut Column, seen: &mut Seen) {
    if v.is_nan() {
        col.nan.add(row);
    } else if v.is_infinite() {
        col.inf.add(row);
        minmax(v, seen);
    } else {
        col.floats += 1;
        minmax(v, seen);
    }
}

fn int(v: f64, col: &mut Column, seen: &mut Seen) {
    col.ints += 1;
    col.floats += 1;
    minmax(v, seen);
}

fn minmax(v: f64, seen: &mut Seen) {
    seen.min = Some(seen.min.map_or(v, |m| m.min(v)));
    seen.max = Some(seen.max.map_or(v, |m| m.max(v)));
}

struct Levels {
    max_def: i16,
    max_rep: i16,
    row_base: u64,
    /// An integer column that holds numbers (not dates, times or decimals).
    plain_int: bool,
    top_level: bool,
    /// Half floats, stored as 2-byte fixed-length byte arrays.
    float16: bool,
}

/// Reads a column chunk through in batches, calling `each` on every value with its row.
fn read_values<T: DataType>(
    r: &mut ColumnReaderImpl<T>,
    l: &Levels,
    col: &mut Column,
    seen: &mut Seen,
    mut each: impl FnMut(&T::T, u64, &mut Column, &mut Seen),
) -> parquet::errors::Result<()> {
    let mut def: Vec<i16> = Vec::new();
    let mut rep: Vec<i16> = Vec::new();
    let mut values: Vec<T::T> = Vec::new();
    let mut row = l.row_base;
    loop {
        def.clear();
        rep.clear();
        values.clear();
        let (records, n_values, n_levels) = r.read_records(
            BATCH,
            (l.max_def > 0).then_some(&mut def),
            (l.max_rep > 0).then_some(&mut rep),
            &mut values,
        )?;
        if records == 0 && n_levels == 0 {
            break;
        }
        if l.max_rep > 0 {
            // A repeated column: values are not rows; its nulls are not counted.
            col.values += records as u64;
            for v in &values[..n_values] {
                each(v, row, col, seen);
            }
        } else if l.max_def == 0 {
            col.values += n_values as u64;
            for (k, v) in values[..n_values].iter().enumerate() {
                each(v, row + k as u64, col, seen);
            }
        } else {
            col.values += n_levels as u64;
            let mut next = values[..n_values].iter();
            for (k, &d) in def[..n_levels].iter().enumerate() {
                if d == l.max_def {
                    if let Some(v) = next.next() {
                        each(v, row + k as u64, col, seen);
                    }
                } else {
                    if l.top_level {
                        col.na.add(row + k as u64);
                    }
                    seen.nulls += 1;
                }
            }
        }
        row += records as u64;
    }
    Ok(())
}

/// A chunk's statistics against what its data holds.
fn check_statistics(
    s: &Statistics,
    seen: &Seen,
    column: &str,
    group: usize,
    out: &mut Vec<String>,
) {
    if seen.nulls_counted
        && let Some(n) = s.null_count_opt()
        && n != seen.nulls
    {
        out.push(format!(
            "column `{column}`, row group {group}: the statistics count {n} nulls, the data holds {}",
            seen.nulls
        ));
    }
    let (min, max) = match s {
        Statistics::Float(v) => (
            v.min_opt().map(|x| f64::from(*x)),
            v.max_opt().map(|x| f64::from(*x)),
        ),
        Statistics::Double(v) => (v.min_opt().copied(), v.max_opt().copied()),
        Statistics::Int32(v) => (
            v.min_opt().map(|x| f64::from(*x)),
            v.max_opt().map(|x| f64::from(*x)),
        ),
        Statistics::Int64(v) => (
            v.min_opt().map(|x| *x as f64),
            v.max_opt().map(|x| *x as f64),
        ),
        _ => (None, None),
    };
    if let (Some(lo), Some(have)) = (min, seen.min)
        && !lo.is_nan()
        && have < lo
    {
        out.push(format!(
            "column `{column}`, row group {group}: the statistics say the minimum is {lo}, the data holds {have}"
        ));
    }
    if let (Some(hi), Some(have)) = (max, seen.max)
        && !hi.is_nan()
        && have > hi
    {
        out.push(format!(
            "column `{column}`, row group {group}: the statistics say the maximum is {hi}, the data holds {have}"
        ));
    }
}

fn is_unsigned(c: &parquet::schema::types::ColumnDescriptor) -> bool {
    use parquet::basic::ConvertedType as C;
    matches!(c.logical_type_ref(), Some(LogicalType::Integer(i)) if !i.is_signed)
        || matches!(
            c.converted_type(),
            C::UINT_8 | C::UINT_16 | C::UINT_32 | C::UINT_64
        )
}

/// A column's type as a finding names it: the logical type where there is one.
fn parquet_type(c: &parquet::schema::types::ColumnDescriptor) -> String {
    let logical = match c.logical_type_ref() {
        Some(LogicalType::String) => Some("string".to_owned()),
        Some(LogicalType::Integer(i)) => Some(format!(
            "{}int{}",
            if i.is_signed { "" } else { "u" },
            i.bit_width
        )),
        Some(LogicalType::Float16) => Some("float16".to_owned()),
        Some(LogicalType::Date) => Some("date".to_owned()),
        Some(LogicalType::Timestamp(t)) => Some(format!("timestamp[{:?}]", t.unit).to_lowercase()),
        Some(LogicalType::Decimal(d)) => Some(format!("decimal({},{})", d.precision, d.scale)),
        Some(other) => Some(format!("{other:?}").to_lowercase()),
        None => None,
    };
    let physical = match c.physical_type() {
        PhysicalType::BOOLEAN => "boolean".to_owned(),
        PhysicalType::INT32 => "int32".to_owned(),
        PhysicalType::INT64 => "int64".to_owned(),
        PhysicalType::INT96 => "int96".to_owned(),
        PhysicalType::FLOAT => "float32".to_owned(),
        PhysicalType::DOUBLE => "float64".to_owned(),
        PhysicalType::BYTE_ARRAY => "binary".to_owned(),
        PhysicalType::FIXED_LEN_BYTE_ARRAY => format!("fixed_size_binary[{}]", c.type_length()),
    };
    let ty = logical.unwrap_or(physical);
    if c.max_rep_level() > 0 {
        format!("list<{ty}>")
    } else {
        ty
    }
}

/// Reads an Arrow IPC file (the file format, `ARROW1`) or stream (what Hugging Face
/// `datasets` writes into its cache).
pub fn scan_arrow(path: &Path) -> std::io::Result<ColumnarScan> {
    let file = File::open(path)?;
    let mut head = [0u8; 6];
    let n = file.read_at(&mut head, 0)?;
    let mut out = ColumnarScan::default();
    let batches: Box<
        dyn Iterator<Item = Result<arrow_array::RecordBatch, arrow_schema::ArrowError>>,
    > = if n == 6 && &head == b"ARROW1" {
        if let Some(fault) = arrow_footer_fault(&file)? {
            out.fault = Some(fault);
            return Ok(out);
        }
        match arrow_ipc::reader::FileReader::try_new(file, None) {
            Ok(r) => {
                arrow_schema_of(&r.schema(), &mut out);
                Box::new(r)
            }
            Err(e) => {
                out.fault = Some(format!("the file's footer or schema does not parse: {e}"));
                return Ok(out);
            }
        }
    } else {
        match arrow_ipc::reader::StreamReader::try_new(std::io::BufReader::new(file), None) {
            Ok(r) => {
                arrow_schema_of(&r.schema(), &mut out);
                Box::new(r)
            }
            Err(e) => {
                out.fault = Some(format!("the stream's schema does not parse: {e}"));
                return Ok(out);
            }
        }
    };
    for batch in batches {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                out.fault = Some(format!(
                    "the record batch after row {} does not read: {e} (cut short or corrupted)",
                    out.rows
                ));
                break;
            }
        };
        for (col, array) in out.columns.iter_mut().zip(batch.columns()) {
            arrow_column(array.as_ref(), out.rows, col);
        }
        out.rows += batch.num_rows() as u64;
    }
    Ok(out)
}

/// An Arrow file's footer checked before a reader trusts it: every block's offset and lengths
/// inside the file (the reader unwraps them).
fn arrow_footer_fault(file: &File) -> std::io::Result<Option<String>> {
    let len = file.metadata()?.len();
    if len < 18 {
        return Ok(Some(format!(
            "the file is {len} bytes: too short for Arrow's magic and footer (cut short)"
        )));
    }
    let mut tail = [0u8; 10];
    file.read_exact_at(&mut tail, len - 10)?;
    if &tail[4..] != b"ARROW1" {
        return Ok(Some(
            "the file does not end with the magic `ARROW1`: cut short, and the footer (the schema and every batch's place) is lost with its end"
                .to_owned(),
        ));
    }
    let footer_len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if footer_len + 18 > len {
        return Ok(Some(format!(
            "the footer's length ({footer_len} bytes) reaches past the start of a {len}-byte file"
        )));
    }
    let mut footer = vec![0u8; usize::try_from(footer_len).unwrap_or(0)];
    file.read_exact_at(&mut footer, len - 10 - footer_len)?;
    let footer = match arrow_ipc::root_as_footer(&footer) {
        Ok(f) => f,
        Err(e) => return Ok(Some(format!("the footer does not parse: {e}"))),
    };
    let blocks = footer
        .recordBatches()
        .into_iter()
        .flatten()
        .chain(footer.dictionaries().into_iter().flatten());
    for b in blocks {
        let end = u64::try_from(b.offset())
            .ok()
            .zip(u64::try_from(b.metaDataLength()).ok())
            .zip(u64::try_from(b.bodyLength()).ok())
            .and_then(|((o, m), l)| o.checked_add(m)?.checked_add(l));
        if end.is_none_or(|e| e > len) {
            return Ok(Some(format!(
                "the footer places a block at byte {} ({} + {} bytes), outside the {len}-byte file",
                b.offset(),
                b.metaDataLength(),
                b.bodyLength()
            )));
        }
    }
    Ok(None)
}

fn arrow_schema_of(schema: &arrow_schema::SchemaRef, out: &mut ColumnarScan) {
    for f in schema.fields() {
        let t = f.data_type();
        out.columns.push(Column {
            name: f.name().clone(),
            by_row: true,
            declared: Some(if t.is_floating() {
                "float"
            } else if t.is_integer() {
                "int"
            } else {
                "string"
            }),
            ..Column::default()
        });
        out.schema
            .push((f.name().clone(), f.data_type().to_string().to_lowercase()));
    }
}

fn arrow_column(array: &dyn arrow_array::Array, base: u64, col: &mut Column) {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float16Type, Float32Type, Float64Type};
    use arrow_schema::DataType as D;
    let n = array.len();
    col.values += n as u64;
    if array.null_count() > 0 {
        for i in 0..n {
            if array.is_null(i) {
                col.na.add(base + i as u64);
            }
        }
    }
    let mut each = |i: usize, v: f64| {
        if array.is_null(i) {
            return;
        }
        if v.is_nan() {
            col.nan.add(base + i as u64);
        } else if v.is_infinite() {
            col.inf.add(base + i as u64);
        } else {
            col.floats += 1;
        }
    };
    match array.data_type() {
        D::Float16 => {
            for (i, v) in array
                .as_primitive::<Float16Type>()
                .values()
                .iter()
                .enumerate()
            {
                each(i, f64::from(v.to_f32()));
            }
        }
        D::Float32 => {
            for (i, v) in array
                .as_primitive::<Float32Type>()
                .values()
                .iter()
                .enumerate()
            {
                each(i, f64::from(*v));
            }
        }
        D::Float64 => {
            for (i, v) in array
                .as_primitive::<Float64Type>()
                .values()
                .iter()
                .enumerate()
            {
                each(i, *v);
            }
        }
        t if t.is_integer() => {
            let present = (n - array.null_count()) as u64;
            col.ints += present;
            col.floats += present;
        }
        _ => {}
    }
}
