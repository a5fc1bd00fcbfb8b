package assets

import "embed"

// Translations holds the app's strings: translations/<lang>/<area>.json, flat
// objects key → text (Fyne's lang JSON format), one file per area of the app so that
// each screen's strings live together. German ("de") is the default and complete;
// English ("en") may lack keys, which then show in German.
//
//go:embed translations
var Translations embed.FS
