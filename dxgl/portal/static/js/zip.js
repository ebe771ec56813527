// One stored (uncompressed) member of a remote ZIP, read with HTTP Range requests: the end record,
// the central directory, then the member's bytes. Used for a dataset's overview.webp, which the
// archive stores uncompressed, so the browser never downloads the whole dataset to show it.

async function range(url, spec) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Range: `bytes=${spec}` } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const buf = new Uint8Array(await response.arrayBuffer());
  const cr = response.headers.get("Content-Range");
  const total = cr ? Number(cr.split("/")[1]) : buf.length;
  const start = response.status === 206 && cr ? Number(cr.split(" ")[1].split("-")[0]) : 0;
  return { buf, start, total, whole: response.status === 200 };
}

function u16(b, o) {
  return b[o] | (b[o + 1] << 8);
}

function u32(b, o) {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

function u64(b, o) {
  return u32(b, o) + u32(b, o + 4) * 2 ** 32;
}

async function slice(url, from, length, cache) {
  if (cache.whole) return cache.whole.subarray(from, from + length);
  const r = await range(url, `${from}-${from + length - 1}`);
  if (r.whole) {
    cache.whole = r.buf;
    return r.buf.subarray(from, from + length);
  }
  return r.buf;
}

export async function storedMember(url, name, type) {
  const cache = {};
  const tail = await range(url, "-65558");
  if (tail.whole) cache.whole = tail.buf;
  const b = tail.buf;
  let eocd = -1;
  for (let i = b.length - 22; i >= 0; i--) {
    if (u32(b, i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error("not a ZIP archive");
  let cdSize = u32(b, eocd + 12);
  let cdOffset = u32(b, eocd + 16);
  if (cdOffset === 0xffffffff || cdSize === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(b, loc) !== 0x07064b50) throw new Error("ZIP64 locator missing");
    const rec = await slice(url, u64(b, loc + 8), 56, cache);
    cdSize = u64(rec, 40);
    cdOffset = u64(rec, 48);
  }
  const cd = await slice(url, cdOffset, cdSize, cache);
  const decoder = new TextDecoder();
  for (let p = 0; p + 46 <= cd.length && u32(cd, p) === 0x02014b50; ) {
    const method = u16(cd, p + 10);
    let size = u32(cd, p + 20);
    const nameLen = u16(cd, p + 28);
    const extraLen = u16(cd, p + 30);
    const commentLen = u16(cd, p + 32);
    let local = u32(cd, p + 42);
    const entry = decoder.decode(cd.subarray(p + 46, p + 46 + nameLen));
    if (entry === name) {
      if (method !== 0) throw new Error(`${name} is compressed`);
      // ZIP64 extra field: the 0xffffffff fields follow in order (uncompressed, compressed, offset).
      let e = p + 46 + nameLen;
      const end = e + extraLen;
      while (e + 4 <= end) {
        const id = u16(cd, e);
        const len = u16(cd, e + 2);
        if (id === 1) {
          let q = e + 4;
          if (u32(cd, p + 24) === 0xffffffff) q += 8;
          if (size === 0xffffffff) {
            size = u64(cd, q);
            q += 8;
          }
          if (local === 0xffffffff) local = u64(cd, q);
        }
        e += 4 + len;
      }
      const header = await slice(url, local, 30, cache);
      const dataStart = local + 30 + u16(header, 26) + u16(header, 28);
      const data = await slice(url, dataStart, size, cache);
      return new Blob([data], { type });
    }
    p += 46 + nameLen + extraLen + commentLen;
  }
  throw new Error(`${name} is not in the archive`);
}
