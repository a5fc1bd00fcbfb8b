// Command winres writes the Windows resources of a FieldOffice .exe into a COFF object
// (.syso) that `go build` links in: the version information Explorer shows under
// Properties → Details (file and product version, description, original file name), the
// application icon in several sizes (from the PNG in FyneApp.toml) and the application
// manifest (runs as the invoking user, no UAC elevation; declares Windows 10/11).
// scripts/package.sh runs it once per .exe (GUI and console) before cross-compiling;
// it is not part of the product.
//
//	go run ./scripts/winres -icon assets/icon.png -version 0.1.0 -build 1 \
//	    -file fieldoffice.exe -description FieldOffice -out rsrc_windows_amd64.syso
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/josephspurrier/goversioninfo"
	"golang.org/x/image/draw"
)

// iconSizes are the sizes Windows picks from (shell, taskbar, title bar, at 100–200 %).
var iconSizes = []int{16, 20, 24, 32, 40, 48, 64, 128, 256}

func main() {
	var (
		name        = flag.String("name", "FieldOffice", "product name")
		id          = flag.String("id", "de.fieldoffice.client", "application ID (manifest assembly name)")
		version     = flag.String("version", "", "version x.y.z (FyneApp.toml Version)")
		build       = flag.Int("build", 0, "build number (FyneApp.toml Build)")
		file        = flag.String("file", "fieldoffice.exe", "original file name of the .exe")
		description = flag.String("description", "FieldOffice", "file description (Task Manager shows it)")
		company     = flag.String("company", "", "company name")
		copyright   = flag.String("copyright", "", "legal copyright")
		comments    = flag.String("comments", "", "comments (e.g. the website)")
		icon        = flag.String("icon", "", "PNG icon, square, at least 256 px")
		arch        = flag.String("arch", "amd64", "GOARCH of the .exe")
		out         = flag.String("out", "", "output .syso (name it rsrc_windows_ARCH.syso in the main package)")
	)
	flag.Parse()
	if *version == "" || *out == "" || *icon == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: winres -version X.Y.Z -build N -icon FILE.png -out FILE.syso [flags]")
		flag.PrintDefaults()
		os.Exit(2)
	}
	if err := run(*name, *id, *version, *build, *file, *description, *company, *copyright, *comments, *icon, *arch, *out); err != nil {
		fmt.Fprintln(os.Stderr, "winres:", err)
		os.Exit(1)
	}
}

func run(name, id, version string, build int, file, description, company, copyright, comments, icon, arch, out string) error {
	fv, err := fileVersion(version, build)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "winres-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	ico, err := pngToICO(icon)
	if err != nil {
		return err
	}
	icoPath := filepath.Join(tmp, "app.ico")
	if err := os.WriteFile(icoPath, ico, 0o644); err != nil {
		return err
	}
	manifestPath := filepath.Join(tmp, "app.manifest")
	if err := os.WriteFile(manifestPath, manifest(id, description, fv), 0o644); err != nil {
		return err
	}

	vi := &goversioninfo.VersionInfo{IconPath: icoPath, ManifestPath: manifestPath}
	vi.FixedFileInfo.FileVersion = fv
	vi.FixedFileInfo.ProductVersion = fv
	vi.FixedFileInfo.FileFlagsMask = "3f"
	vi.FixedFileInfo.FileOS = "040004"  // VOS_NT_WINDOWS32
	vi.FixedFileInfo.FileType = "01"    // VFT_APP
	vi.FixedFileInfo.FileSubType = "00" // VFT2_UNKNOWN
	vi.StringFileInfo = goversioninfo.StringFileInfo{
		Comments:         comments,
		CompanyName:      company,
		FileDescription:  description,
		FileVersion:      fv.GetVersionString(),
		InternalName:     strings.TrimSuffix(file, ".exe"),
		LegalCopyright:   copyright,
		OriginalFilename: file,
		ProductName:      name,
		ProductVersion:   fmt.Sprintf("%s+%d", version, build), // as `fieldoffice version` prints it
	}
	vi.VarFileInfo.Translation = goversioninfo.Translation{LangID: goversioninfo.LngGerman, CharsetID: goversioninfo.CsUnicode}
	vi.Build()
	vi.Walk()
	return vi.WriteSyso(out, arch)
}

// fileVersion is the four-part numeric version Windows wants: x.y.z.build.
func fileVersion(version string, build int) (goversioninfo.FileVersion, error) {
	var fv goversioninfo.FileVersion
	parts := strings.Split(version, ".")
	if len(parts) > 3 {
		return fv, fmt.Errorf("version %q: want x, x.y or x.y.z", version)
	}
	nums := make([]int, 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return fv, fmt.Errorf("version %q: %q is not a number 0–65535", version, p)
		}
		nums[i] = n
	}
	if build < 0 || build > 65535 {
		return fv, fmt.Errorf("build %d: not 0–65535", build)
	}
	return goversioninfo.FileVersion{Major: nums[0], Minor: nums[1], Patch: nums[2], Build: build}, nil
}

// pngToICO scales the PNG to iconSizes and packs them as PNG-compressed ICO entries
// (supported since Windows Vista).
func pngToICO(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("icon %s: %w", path, err)
	}
	if b := src.Bounds(); b.Dx() != b.Dy() || b.Dx() < 256 {
		return nil, fmt.Errorf("icon %s: %dx%d, want square and at least 256x256", path, b.Dx(), b.Dy())
	}
	var images [][]byte
	for _, s := range iconSizes {
		dst := image.NewNRGBA(image.Rect(0, 0, s, s))
		draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
		var buf bytes.Buffer
		if err := png.Encode(&buf, dst); err != nil {
			return nil, err
		}
		images = append(images, buf.Bytes())
	}
	var out bytes.Buffer
	le := binary.LittleEndian
	_ = binary.Write(&out, le, [3]uint16{0, 1, uint16(len(images))}) // ICONDIR: reserved, type icon, count
	offset := 6 + 16*len(images)
	for i, img := range images {
		s := iconSizes[i]
		_ = binary.Write(&out, le, struct {
			W, H, Colors, Reserved uint8
			Planes, BitCount       uint16
			Bytes, Offset          uint32
		}{uint8(s % 256), uint8(s % 256), 0, 0, 1, 32, uint32(len(img)), uint32(offset)}) // 0 means 256
		offset += len(img)
	}
	for _, img := range images {
		out.Write(img)
	}
	return out.Bytes(), nil
}

func manifest(id, description string, fv goversioninfo.FileVersion) []byte {
	esc := func(s string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	return []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v1" manifestVersion="1.0">
  <assemblyIdentity type="win32" name="` + esc(id) + `" version="` + fv.GetVersionString() + `" processorArchitecture="*"/>
  <description>` + esc(description) + `</description>
  <trustInfo xmlns="urn:schemas-microsoft-com:asm.v3">
    <security>
      <requestedPrivileges>
        <requestedExecutionLevel level="asInvoker" uiAccess="false"/>
      </requestedPrivileges>
    </security>
  </trustInfo>
  <compatibility xmlns="urn:schemas-microsoft-com:compatibility.v1">
    <application>
      <supportedOS Id="{8e0f7a12-bfb3-4fe8-b9a5-48fd50a15a9a}"/>
    </application>
  </compatibility>
</assembly>
`)
}
