-- The built-in `desktop` template (docs/desktop.md): code-interpreter with an X desktop an agent can
-- drive and a person can watch. Its image is built by `warren images` like the other built-ins.
INSERT INTO templates (name, display_name, description, category, language, image,
                       vcpu, memory_mb, disk_gb, features, tags, is_public)
VALUES
    ('desktop', 'Desktop',
     'Code Interpreter with an X desktop: Xvfb, a VNC viewer, Chromium, screenshots, input and OCR.',
     'development', 'python', 'warren/template-desktop:latest', 2, 2048, 10,
     '{code_execution,file_operations,terminal_access,rich_output,desktop}',
     '{python,desktop,browser}', true);
