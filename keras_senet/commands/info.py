"""`keras-senet list`: architectures with their size and their pretrained checkpoints."""


def add_arguments(parser):
    parser.add_argument("--family", help="only this family (se_resnet, sknet, ...)")
    parser.add_argument("--pretrained", action="store_true",
                        help="only architectures with pretrained weights")
    parser.add_argument("--weights", action="store_true",
                        help="one row per checkpoint: source, evaluation transform, top-1")


def _architectures(args):
    from keras_senet.registry import get_spec, list_models, sources_for
    from keras_senet.stats import load_stats

    stats = load_stats()
    rows = [("name", "family", "params", "GFLOPs", "weights")]
    for name in list_models(args.family):
        tags = [s.tag for s in sources_for(name)]
        if args.pretrained and not tags:
            continue
        entry = stats.get(name, {})
        params = f"{entry['params'] / 1e6:.2f}M" if entry else "?"
        gflops = f"{entry['gmacs']:.2f}" if entry else "?"
        rows.append((name, get_spec(name).family, params, gflops, ", ".join(tags) or "-"))
    return rows


def _checkpoints(args):
    from keras_senet.registry import list_models, sources_for

    rows = [("checkpoint", "size", "crop", "interp.", "top-1", "sha256", "licence", "url")]
    for name in list_models(args.family):
        for source in sources_for(name):
            t = source.transform
            rows.append((source.full_name, str(t.input_size), f"{t.crop_pct:g}", t.interpolation,
                         f"{source.top1:.2f}" if source.top1 else "-",
                         (source.sha256 or "-")[:12], source.license, source.url))
    return rows


def format_table(rows):
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()
                     for row in rows)


def run(args):
    rows = _checkpoints(args) if args.weights else _architectures(args)
    if len(rows) == 1 and args.family:
        raise ValueError(f"No architecture of family {args.family!r}.")
    print(format_table(rows))
    if args.weights:
        print("\ntop-1: timm's published ImageNet-1k validation figure, quoted, not measured "
              "here; '-' where timm lists none at this input size.")
    return 0
