// A tiny PNG decoder for the plot tests (screenshots of headless Chromium):
// 8-bit greyscale, RGB, grey+alpha and RGBA, not interlaced; enough to count
// the colours of a screenshot. Pixels come back as RGBA.
import { inflateSync } from 'node:zlib';

export interface Image {
  width: number;
  height: number;
  /** RGBA, 4 bytes a pixel, rows top to bottom. */
  rgba: Buffer;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

export function decodePng(png: Buffer): Image {
  if (png.length < 8 || !png.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG');
  let off = 8;
  let width = 0;
  let height = 0;
  let colorType = -1;
  const idat: Buffer[] = [];
  while (off + 8 <= png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('latin1', off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + len);
    off += 12 + len;
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8];
      colorType = data[9] ?? -1;
      if (depth !== 8 || !(colorType in CHANNELS) || data[12] !== 0) throw new Error(`unsupported PNG: depth ${depth}, colour type ${colorType}, interlace ${data[12]}`);
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
  }
  const ch = CHANNELS[colorType];
  if (!width || !height || ch === undefined) throw new Error('PNG without IHDR');
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * ch;
  const px = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    if (line.length !== stride) throw new Error(`PNG image data ends in row ${y} of ${height}`);
    const out = px.subarray(y * stride, (y + 1) * stride);
    const prev = y ? px.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    // line, out and prev are stride bytes long: each index below is in them.
    for (let i = 0; i < stride; i++) {
      const a = i >= ch ? out[i - ch]! : 0;
      const b = prev[i]!;
      const c = i >= ch ? prev[i - ch]! : 0;
      let v = line[i]!;
      switch (filter) {
        case 0:
          break;
        case 1:
          v += a;
          break;
        case 2:
          v += b;
          break;
        case 3:
          v += (a + b) >> 1;
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          throw new Error(`bad PNG filter ${filter}`);
      }
      out[i] = v & 0xff;
    }
  }
  const rgba = Buffer.alloc(width * height * 4);
  // px holds width * height pixels of ch bytes: j + ch - 1 is in it.
  for (let i = 0, j = 0; i < width * height; i++, j += ch) {
    const g = px[j]!;
    if (ch === 1) rgba.set([g, g, g, 255], i * 4);
    else if (ch === 2) rgba.set([g, g, g, px[j + 1]!], i * 4);
    else if (ch === 3) rgba.set([g, px[j + 1]!, px[j + 2]!, 255], i * 4);
    else rgba.set([g, px[j + 1]!, px[j + 2]!, px[j + 3]!], i * 4);
  }
  return { width, height, rgba };
}

export interface PixelStats {
  distinctColours: number;
  nonWhite: number;
  /** Pixels close to each of the given colours ('#rrggbb'), within tolerance per channel. */
  near: Record<string, number>;
}

export function pixelStats(img: Image, colours: string[] = [], tolerance = 40): PixelStats {
  const seen = new Set<number>();
  let nonWhite = 0;
  const targets = colours.map((c) => ({ colour: c, r: parseInt(c.slice(1, 3), 16), g: parseInt(c.slice(3, 5), 16), b: parseInt(c.slice(5, 7), 16), n: 0 }));
  // rgba is 4 bytes a pixel: i + 2 is in it.
  for (let i = 0; i < img.rgba.length; i += 4) {
    const r = img.rgba[i]!;
    const g = img.rgba[i + 1]!;
    const b = img.rgba[i + 2]!;
    seen.add((r << 16) | (g << 8) | b);
    if (r < 245 || g < 245 || b < 245) nonWhite++;
    for (const t of targets) if (Math.abs(r - t.r) <= tolerance && Math.abs(g - t.g) <= tolerance && Math.abs(b - t.b) <= tolerance) t.n++;
  }
  return { distinctColours: seen.size, nonWhite, near: Object.fromEntries(targets.map((t) => [t.colour, t.n])) };
}
